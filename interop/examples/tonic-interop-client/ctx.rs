//! The channel the cases call over: tonic's, wrapped so that every response carries its
//! messages' Compressed-Flags ([`MessageFlags`] in the response extensions) and every request
//! the `--additional_metadata`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::HeaderMap;
use interop::flags::ClientFlags;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::pb::test_service_client::TestServiceClient;
use crate::pb::unimplemented_service_client::UnimplementedServiceClient;
use crate::reframe::{MessageFlags, Reframe};

/// A `TestService` client on a [`FlagChannel`].
pub(crate) type Client = TestServiceClient<FlagChannel>;

/// What the cases share.
pub(crate) struct Ctx {
    pub(crate) flags: ClientFlags,
    endpoint: Endpoint,
    extra: HeaderMap,
    channel: FlagChannel,
}

impl Ctx {
    pub(crate) fn new(flags: ClientFlags) -> Result<Ctx, String> {
        let url = format!("http://{}", flags.server_address());
        let mut endpoint = Endpoint::from_shared(url).map_err(|e| e.to_string())?;
        if flags.server_host_override.is_some() {
            let origin = format!("http://{}", flags.authority());
            endpoint = endpoint.origin(origin.parse().map_err(|e| format!("{origin}: {e}"))?);
        }
        let mut metadata = MetadataMap::new();
        for (key, value) in &flags.additional_metadata {
            let added = if key.ends_with("-bin") {
                tonic::metadata::BinaryMetadataKey::from_bytes(key.as_bytes())
                    .map(|key| {
                        metadata.append_bin(key, MetadataValue::from_bytes(value.as_bytes()))
                    })
                    .is_ok()
            } else {
                match (
                    key.parse::<tonic::metadata::AsciiMetadataKey>(),
                    value.parse(),
                ) {
                    (Ok(key), Ok(value)) => {
                        metadata.append(key, value);
                        true
                    }
                    _ => false,
                }
            };
            if !added {
                return Err(format!("--additional_metadata: bad entry {key}:{value}"));
            }
        }
        let extra = metadata.into_headers();
        let channel = FlagChannel::new(endpoint.connect_lazy(), extra.clone());
        Ok(Ctx {
            flags,
            endpoint,
            extra,
            channel,
        })
    }

    /// A client on the shared channel.
    pub(crate) fn client(&self) -> Client {
        TestServiceClient::new(self.channel.clone())
    }

    /// A client on a channel of its own (a new connection).
    pub(crate) fn fresh_client(&self) -> Client {
        TestServiceClient::new(FlagChannel::new(
            self.endpoint.connect_lazy(),
            self.extra.clone(),
        ))
    }

    /// An `UnimplementedService` client on the shared channel.
    pub(crate) fn unimplemented(&self) -> UnimplementedServiceClient<FlagChannel> {
        UnimplementedServiceClient::new(self.channel.clone())
    }
}

/// tonic's channel, adding headers to requests and [`MessageFlags`] to responses.
#[derive(Clone, Debug)]
pub(crate) struct FlagChannel {
    inner: Channel,
    extra: HeaderMap,
}

impl FlagChannel {
    fn new(inner: Channel, extra: HeaderMap) -> Self {
        FlagChannel { inner, extra }
    }
}

type Body = tonic::body::Body;

impl tower_service::Service<http::Request<Body>> for FlagChannel {
    type Response = http::Response<Reframe<Body>>;
    type Error = tonic::transport::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        for (key, value) in &self.extra {
            request.headers_mut().append(key.clone(), value.clone());
        }
        let response = self.inner.call(request);
        Box::pin(async move {
            let (mut parts, body) = response.await?.into_parts();
            let flags = MessageFlags::default();
            parts.extensions.insert(flags.clone());
            Ok(http::Response::from_parts(parts, Reframe::new(body, flags)))
        })
    }
}
