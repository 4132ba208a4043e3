//! Connectivity states of subchannels and channels (grpc/grpc `doc/connectivity-semantics-and-api.md`).

/// The connectivity state of a [`Subchannel`](crate::balancer::Subchannel) or, aggregated
/// by the load-balancing policy, of a [`Channel`](crate::Channel).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use rill::client::ConnectivityState;
/// let channel = rill::Channel::lazy("127.0.0.1:50051").unwrap();
/// assert_eq!(channel.state(), ConnectivityState::Idle);
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectivityState {
    /// Not connected and not trying: the next call (or
    /// [`Channel::request_connection`](crate::Channel::request_connection)) starts connecting.
    Idle,
    /// Trying to connect; calls wait.
    Connecting,
    /// Connected: calls go out.
    Ready,
    /// The last connection attempt failed; retrying after a backoff. Calls fail with
    /// UNAVAILABLE at once unless they wait for ready.
    TransientFailure,
    /// Shut down for good.
    Shutdown,
}

impl ConnectivityState {
    /// The state's name as gRPC spells it (`READY`, `TRANSIENT_FAILURE`…).
    pub fn as_str(&self) -> &'static str {
        match self {
            ConnectivityState::Idle => "IDLE",
            ConnectivityState::Connecting => "CONNECTING",
            ConnectivityState::Ready => "READY",
            ConnectivityState::TransientFailure => "TRANSIENT_FAILURE",
            ConnectivityState::Shutdown => "SHUTDOWN",
        }
    }
}

impl std::fmt::Display for ConnectivityState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
