//! Resolvers whose answer is in the target itself: `ipv4:`, `ipv6:`, `unix:`, `unix-abstract:`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{
    Address, Resolver, ResolverBuilder, ResolverError, ResolverSink, ResolverState, Target,
};

pub(super) const SCHEMES: [&str; 4] = ["ipv4", "ipv6", "unix", "unix-abstract"];

/// The built-in resolver of one of [`SCHEMES`].
pub(super) struct FixedBuilder(pub(super) &'static str);

/// Nothing runs: the addresses never change.
struct Done;
impl Resolver for Done {}

const DEFAULT_PORT: u16 = 443;

impl FixedBuilder {
    fn addresses(&self, target: &Target) -> Result<Vec<Address>, ResolverError> {
        let bad =
            |reason: &str| ResolverError::InvalidTarget(format!("{:?}: {reason}", target.as_str()));
        // After `scheme:`, as written (`unix://` is followed by an absolute path).
        let rest = target
            .as_str()
            .get(target.scheme().len() + 1..)
            .unwrap_or_default();
        match self.0 {
            "unix" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(bad("empty unix socket path"));
                }
                Ok(vec![Address::unix(path)])
            }
            "unix-abstract" => Ok(vec![Address::unix_abstract(rest)]),
            family => {
                let list = target.endpoint();
                if list.is_empty() {
                    return Err(bad("no address"));
                }
                list.split(',')
                    .map(|item| {
                        parse_ip(family, item)
                            .map(Address::tcp)
                            .ok_or_else(|| bad(&format!("{item:?} is not an {family} address")))
                    })
                    .collect()
            }
        }
    }
}

/// `addr[:port]` for IPv4; `[addr]:port`, `[addr]` or a bare `addr` for IPv6.
fn parse_ip(family: &str, item: &str) -> Option<SocketAddr> {
    if family == "ipv4" {
        if let Ok(address) = item.parse::<SocketAddr>() {
            return address.is_ipv4().then_some(address);
        }
        let ip: Ipv4Addr = item.parse().ok()?;
        return Some(SocketAddr::new(IpAddr::V4(ip), DEFAULT_PORT));
    }
    if let Ok(address) = item.parse::<SocketAddr>() {
        return address.is_ipv6().then_some(address);
    }
    let bare = item
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(item);
    let ip: Ipv6Addr = bare.parse().ok()?;
    Some(SocketAddr::new(IpAddr::V6(ip), DEFAULT_PORT))
}

impl ResolverBuilder for FixedBuilder {
    fn scheme(&self) -> &str {
        self.0
    }

    fn authority(&self, target: &Target) -> Result<String, ResolverError> {
        let addresses = self.addresses(target)?;
        Ok(match addresses.first().and_then(Address::socket_addr) {
            Some(first) => first.to_string(),
            None => "localhost".to_string(),
        })
    }

    fn build(
        &self,
        target: &Target,
        sink: ResolverSink,
    ) -> Result<Box<dyn Resolver>, ResolverError> {
        sink.update(ResolverState::new(self.addresses(target)?));
        Ok(Box::new(Done))
    }
}

/// A resolver of a fixed list, for channels over a custom connector.
pub(crate) struct Fixed(pub(crate) Vec<Address>);

impl ResolverBuilder for Fixed {
    fn scheme(&self) -> &str {
        "fixed"
    }

    fn build(&self, _: &Target, sink: ResolverSink) -> Result<Box<dyn Resolver>, ResolverError> {
        sink.update(ResolverState::new(self.0.clone()));
        Ok(Box::new(Done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(target: &str) -> Result<Vec<String>, ResolverError> {
        let target = Target::parse(target).unwrap();
        let builder = FixedBuilder(SCHEMES.into_iter().find(|s| *s == target.scheme()).unwrap());
        Ok(builder
            .addresses(&target)?
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    #[test]
    fn address_lists() {
        assert_eq!(
            resolve("ipv4:10.0.0.1:1,10.0.0.2").unwrap(),
            ["10.0.0.1:1", "10.0.0.2:443"]
        );
        assert_eq!(
            resolve("ipv6:[::1]:50051,::2,[::3]").unwrap(),
            ["[::1]:50051", "[::2]:443", "[::3]:443"]
        );
        assert_eq!(resolve("unix:/tmp/s.sock").unwrap(), ["unix:/tmp/s.sock"]);
        assert_eq!(resolve("unix:///tmp/s.sock").unwrap(), ["unix:/tmp/s.sock"]);
        assert_eq!(resolve("unix:rel.sock").unwrap(), ["unix:rel.sock"]);
        assert_eq!(resolve("unix-abstract:svc").unwrap(), ["unix-abstract:svc"]);
        for bad in [
            "ipv4:",
            "ipv4:[::1]:1",
            "ipv6:10.0.0.1:1",
            "ipv4:host:1",
            "unix:",
        ] {
            assert!(resolve(bad).is_err(), "{bad}");
        }
    }
}
