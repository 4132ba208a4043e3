//! `ring_hash_experimental` (gRFC A42, with A76's `requestHashHeader`): consistent hashing of
//! a per-call key onto a ketama-style ring of the addresses, for affinity.

use std::sync::Arc;

use super::{
    dedup, unavailable, ChannelController, ConnectivityState, LbPolicy, LoadBalancer, PickInfo,
    PickResult, Picker, Subchannel, SubchannelState,
};
use crate::client::backoff::random_u64;
use crate::resolver::ResolverState;
use crate::Status;

/// Calls with the same key go to the same backend while the set of backends is stable; when a
/// backend leaves, only its keys move (gRFC A42). Subchannels connect lazily, when a call
/// hashes to them; a call whose backend is failing goes to the next one on the ring.
///
/// The key is the value of a request metadata header named by
/// [`request_hash_header`](Self::request_hash_header) (gRFC A76), hashed with XXH64; a call
/// without it (or without a header configured) gets a random hash.
///
/// ```
/// use rill::balancer::RingHash;
/// let channel = rill::Channel::builder("ipv4:127.0.0.1:50051,127.0.0.1:50052")
///     .load_balancer(RingHash::new().request_hash_header("x-session-id"))
///     .connect_lazy()
///     .unwrap();
/// let mut request = rill::Request::new(());
/// request.metadata_mut().insert("x-session-id", "user-42").unwrap();
/// # drop((channel, request));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RingHash {
    pub(super) min_ring_size: u64,
    pub(super) max_ring_size: u64,
    pub(super) request_hash_header: Option<String>,
}

/// A42's limit on configured ring sizes.
pub(super) const RING_SIZE_CAP: u64 = 8 * 1024 * 1024;
/// The ring is never bigger than this (gRPC's default `ring_hash_size_cap`, gRFC A76).
const RING_SIZE_CLAMP: u64 = 4096;

impl Default for RingHash {
    fn default() -> Self {
        RingHash {
            min_ring_size: 1024,
            max_ring_size: 4096,
            request_hash_header: None,
        }
    }
}

impl RingHash {
    /// The policy with gRFC A42's defaults (ring of 1024 to 4096 entries).
    pub fn new() -> Self {
        Self::default()
    }

    /// Bounds of the ring's size (more entries spread keys more evenly); as in gRPC, the ring
    /// never exceeds 4096 entries.
    pub fn ring_size(mut self, min: u64, max: u64) -> Self {
        self.max_ring_size = max.clamp(1, RING_SIZE_CAP);
        self.min_ring_size = min.clamp(1, self.max_ring_size);
        self
    }

    /// The request metadata header whose value is each call's key (gRFC A76).
    pub fn request_hash_header(mut self, header: impl Into<String>) -> Self {
        self.request_hash_header = Some(header.into().to_ascii_lowercase());
        self
    }
}

impl LbPolicy for RingHash {
    fn name(&self) -> &str {
        "ring_hash_experimental"
    }

    fn build(&self) -> Box<dyn LoadBalancer> {
        Box::new(Balancer {
            config: self.clone(),
            subchannels: Vec::new(),
            ring: Arc::new(Vec::new()),
            last_error: None,
        })
    }
}

struct Balancer {
    config: RingHash,
    subchannels: Vec<(Subchannel, ConnectivityState)>,
    ring: Arc<Vec<(u64, usize)>>,
    last_error: Option<Status>,
}

impl Balancer {
    fn publish(&mut self, channel: &mut dyn ChannelController) {
        let count = |s: ConnectivityState| self.subchannels.iter().filter(|(_, x)| *x == s).count();
        use ConnectivityState::*;
        let state = if self.subchannels.is_empty() {
            TransientFailure
        } else if count(Ready) > 0 {
            Ready
        } else if count(TransientFailure) >= 2 {
            TransientFailure
        } else if count(Connecting) > 0 {
            Connecting
        } else if count(Idle) > 0 {
            Idle
        } else {
            TransientFailure
        };
        if state == TransientFailure {
            // A42: keep one connection attempt going so that the channel can recover.
            if count(Connecting) == 0 {
                if let Some((s, _)) = self.subchannels.iter().find(|(_, x)| *x == Idle) {
                    s.connect();
                }
            }
        }
        let picker = RingPicker {
            ring: self.ring.clone(),
            subchannels: self.subchannels.iter().map(|(s, _)| s.clone()).collect(),
            header: self.config.request_hash_header.clone(),
            error: unavailable(
                self.last_error.as_ref(),
                "no ring_hash backend is reachable",
            ),
        };
        channel.update_picker(state, Arc::new(picker));
    }
}

impl LoadBalancer for Balancer {
    fn resolver_update(&mut self, state: &ResolverState, channel: &mut dyn ChannelController) {
        let addresses = dedup(&state.addresses);
        let mut kept = Vec::with_capacity(addresses.len());
        for address in &addresses {
            match self
                .subchannels
                .iter()
                .position(|(s, _)| s.address() == address)
            {
                Some(i) => kept.push(self.subchannels.swap_remove(i)),
                None => kept.push((channel.new_subchannel(address), ConnectivityState::Idle)),
            }
        }
        for (gone, _) in self.subchannels.drain(..) {
            gone.shutdown();
        }
        self.subchannels = kept;
        let names: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
        self.ring = Arc::new(build_ring(&names, &self.config));
        if self.subchannels.is_empty() {
            self.last_error = Some(Status::unavailable("the resolver returned no addresses"));
        }
        self.publish(channel);
    }

    fn resolver_error(&mut self, error: &Status, channel: &mut dyn ChannelController) {
        if self.subchannels.is_empty() {
            self.last_error = Some(error.clone());
            self.publish(channel);
        }
    }

    fn subchannel_update(
        &mut self,
        subchannel: &Subchannel,
        state: &SubchannelState,
        channel: &mut dyn ChannelController,
    ) {
        let Some(entry) = self.subchannels.iter_mut().find(|(s, _)| s == subchannel) else {
            return;
        };
        entry.1 = state.state;
        if state.state == ConnectivityState::TransientFailure {
            self.last_error = state.error.clone();
            channel.request_resolution();
        }
        self.publish(channel);
    }

    fn exit_idle(&mut self, _channel: &mut dyn ChannelController) {
        // Connections start when calls hash to them.
    }
}

/// The ring: `(hash, index of the address)`, sorted by hash (Envoy's and gRPC's ketama).
fn build_ring(addresses: &[String], config: &RingHash) -> Vec<(u64, usize)> {
    if addresses.is_empty() {
        return Vec::new();
    }
    // Equal weights: each address gets the same share.
    let weight = 1.0 / addresses.len() as f64;
    let max = config.max_ring_size.min(RING_SIZE_CLAMP);
    let min = config.min_ring_size.min(max);
    let scale = ((weight * min as f64).ceil() / weight).min(max as f64);
    let mut ring = Vec::with_capacity(scale.ceil() as usize);
    let (mut current, mut target) = (0.0, 0.0);
    for (index, address) in addresses.iter().enumerate() {
        target += scale * weight;
        let mut count = 0u64;
        while current < target {
            ring.push((xxh64(format!("{address}_{count}").as_bytes(), 0), index));
            count += 1;
            current += 1.0;
        }
    }
    ring.sort_unstable();
    ring
}

struct RingPicker {
    ring: Arc<Vec<(u64, usize)>>,
    subchannels: Vec<Subchannel>,
    header: Option<String>,
    error: Status,
}

impl RingPicker {
    fn hash(&self, info: &PickInfo<'_>) -> u64 {
        match self.header.as_deref().and_then(|h| info.metadata().get(h)) {
            Some(value) => xxh64(value.as_bytes(), 0),
            None => random_u64(),
        }
    }
}

impl Picker for RingPicker {
    fn pick(&self, info: &PickInfo<'_>) -> PickResult {
        if self.ring.is_empty() {
            return PickResult::Fail(self.error.clone());
        }
        let hash = self.hash(info);
        let start = self.ring.partition_point(|(h, _)| *h < hash);
        let mut seen: Vec<usize> = Vec::with_capacity(2);
        for step in 0..self.ring.len() {
            let (_, index) = self.ring[(start + step) % self.ring.len()];
            if seen.contains(&index) {
                continue;
            }
            seen.push(index);
            let Some(subchannel) = self.subchannels.get(index) else {
                continue;
            };
            match subchannel.state() {
                ConnectivityState::Ready => return PickResult::Pick(subchannel.clone()),
                // The first two distinct backends: wait for them rather than move the key.
                ConnectivityState::Idle if seen.len() <= 2 => {
                    subchannel.connect();
                    return PickResult::Queue;
                }
                ConnectivityState::Connecting if seen.len() <= 2 => return PickResult::Queue,
                // Further on, look for a READY one, starting connections on the way.
                ConnectivityState::Idle => subchannel.connect(),
                _ => {}
            }
            if seen.len() == self.subchannels.len() {
                break;
            }
        }
        PickResult::Fail(self.error.clone())
    }
}

/// XXH64 (the hash gRPC and Envoy use for rings and request hashes).
pub(super) fn xxh64(data: &[u8], seed: u64) -> u64 {
    const P1: u64 = 0x9E37_79B1_85EB_CA87;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const P3: u64 = 0x1656_67B1_9E37_79F9;
    const P4: u64 = 0x85EB_CA77_C2B2_AE63;
    const P5: u64 = 0x27D4_EB2F_1656_67C5;
    fn round(acc: u64, input: u64) -> u64 {
        acc.wrapping_add(input.wrapping_mul(P2))
            .rotate_left(31)
            .wrapping_mul(P1)
    }
    fn merge(acc: u64, value: u64) -> u64 {
        (acc ^ round(0, value)).wrapping_mul(P1).wrapping_add(P4)
    }
    let u64_at = |b: &[u8]| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    let mut rest = data;
    let mut hash = if data.len() >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 32 {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = round(*lane, u64_at(&rest[i * 8..]));
            }
            rest = &rest[32..];
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane in v {
            h = merge(h, lane);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    hash = hash.wrapping_add(data.len() as u64);
    while rest.len() >= 8 {
        hash ^= round(0, u64_at(rest));
        hash = hash.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        let word = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
        hash ^= word.wrapping_mul(P1);
        hash = hash.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for byte in rest {
        hash ^= (*byte as u64).wrapping_mul(P5);
        hash = hash.rotate_left(11).wrapping_mul(P1);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(P2);
    hash ^= hash >> 29;
    hash = hash.wrapping_mul(P3);
    hash ^ (hash >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh64_matches_the_reference() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        // Over 32 bytes: the striped path.
        let long = b"Nobody inspects the spammish repetition";
        assert_eq!(xxh64(long, 0), 0xFBCE_A83C_8A37_8BF1);
    }

    #[test]
    fn rings_have_the_configured_size_and_spread() {
        let names: Vec<String> = (0..3).map(|i| format!("10.0.0.{i}:80")).collect();
        let ring = build_ring(&names, &RingHash::new());
        assert_eq!(ring.len(), 1026); // ceil(1024 / 3) × 3
        let mut counts = [0; 3];
        for (_, i) in ring.iter() {
            counts[*i] += 1;
        }
        assert_eq!(counts, [342, 342, 342]);
        let small = build_ring(&names, &RingHash::new().ring_size(6, 6));
        assert_eq!(small.len(), 6);
        assert!(build_ring(&[], &RingHash::new()).is_empty());
    }
}
