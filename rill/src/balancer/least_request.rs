//! `least_request_experimental` (gRFC A48): of `choice_count` random READY subchannels, the
//! one with the fewest calls in flight.

use std::sync::Arc;

use super::round_robin::{Balancer, Spread};
use super::{LbPolicy, LoadBalancer, PickInfo, PickResult, Picker, Subchannel};
use crate::client::backoff::random_u64;

/// Connects to every address; each call goes to the least busy of `choice_count` (2 by
/// default, 2 to 10) randomly chosen READY subchannels ("power of two choices", gRFC A48).
/// Busy means calls in flight from this channel.
///
/// ```
/// use rill::balancer::LeastRequest;
/// let channel = rill::Channel::builder("ipv4:127.0.0.1:50051,127.0.0.1:50052")
///     .load_balancer(LeastRequest::new().choice_count(3))
///     .connect_lazy()
///     .unwrap();
/// # drop(channel);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LeastRequest {
    choice_count: usize,
}

impl Default for LeastRequest {
    fn default() -> Self {
        LeastRequest { choice_count: 2 }
    }
}

impl LeastRequest {
    /// The policy with gRFC A48's defaults (2 choices).
    pub fn new() -> Self {
        Self::default()
    }

    /// How many random candidates each pick compares; clamped to 2..=10 as A48 says.
    pub fn choice_count(mut self, n: usize) -> Self {
        self.choice_count = n.clamp(2, 10);
        self
    }
}

impl LbPolicy for LeastRequest {
    fn name(&self) -> &str {
        "least_request_experimental"
    }

    fn build(&self) -> Box<dyn LoadBalancer> {
        Box::new(Balancer::new(Choices(self.choice_count)))
    }
}

struct Choices(usize);

impl Spread for Choices {
    fn picker(&mut self, ready: Vec<Subchannel>) -> Arc<dyn Picker> {
        Arc::new(LeastPicker {
            ready,
            choices: self.0,
        })
    }
}

struct LeastPicker {
    ready: Vec<Subchannel>,
    choices: usize,
}

impl Picker for LeastPicker {
    fn pick(&self, _: &PickInfo<'_>) -> PickResult {
        let n = self.ready.len() as u64;
        let mut best: Option<&Subchannel> = None;
        for _ in 0..self.choices {
            let candidate = &self.ready[(random_u64() % n) as usize];
            if best.is_none_or(|b| candidate.in_flight() < b.in_flight()) {
                best = Some(candidate);
            }
        }
        match best {
            Some(subchannel) => PickResult::Pick(subchannel.clone()),
            None => PickResult::Queue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_count_is_clamped() {
        assert_eq!(LeastRequest::new().choice_count, 2);
        assert_eq!(LeastRequest::new().choice_count(1).choice_count, 2);
        assert_eq!(LeastRequest::new().choice_count(50).choice_count, 10);
    }
}
