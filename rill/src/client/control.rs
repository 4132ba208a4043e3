//! A channel's control plane: the resolver, the load balancer and the subchannels, driven by
//! events that run one at a time (grpc-go's callback serializer, without a task).
//!
//! Events come from anywhere (a call leaving IDLE, a resolver's task, a subchannel's task, the
//! application's `ManualResolver::update`). Whoever queues an event while nobody is draining
//! drains the queue on the spot; an event queued during the drain (including by the
//! balancer itself) is handled right after. The data plane only reads what this publishes:
//! the picker and the aggregate state, through `watch` channels.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::runtime::Handle;
use tokio::sync::watch;

use super::subchannel::{Subchannel, SubchannelConfig};
use super::ConnectivityState;
use crate::balancer::{
    ChannelController, LbPolicy, LoadBalancer, Picker, QueuePicker, SubchannelState,
};
use crate::resolver::{Address, Resolver, ResolverBuilder, ResolverSink, ResolverState, Target};
use crate::Status;

enum Event {
    /// Leave IDLE: start the resolver, or wake the balancer. Carries the runtime to run
    /// subchannels on.
    ExitIdle(Handle),
    Resolved(ResolverState),
    ResolverError(Status),
    Subchannel(Subchannel, SubchannelState),
    ResetBackoff,
}

pub(crate) struct Control {
    pub(crate) authority: String,
    pub(crate) scheme: &'static str,
    pub(crate) picker: watch::Sender<Arc<dyn Picker>>,
    pub(crate) state: watch::Sender<ConnectivityState>,
    queue: Mutex<Queue>,
    core: Mutex<Core>,
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Event>,
    draining: bool,
}

struct Core {
    target: Target,
    builder: Arc<dyn ResolverBuilder>,
    resolver: Option<Box<dyn Resolver>>,
    balancer: Box<dyn LoadBalancer>,
    config: Arc<SubchannelConfig>,
    runtime: Option<Handle>,
    /// Every live subchannel, to shut down with the channel.
    subchannels: Vec<Subchannel>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Control {
    pub(crate) fn new(
        authority: String,
        scheme: &'static str,
        target: Target,
        builder: Arc<dyn ResolverBuilder>,
        policy: &dyn LbPolicy,
        config: SubchannelConfig,
    ) -> Arc<Control> {
        let picker: Arc<dyn Picker> = Arc::new(QueuePicker);
        Arc::new(Control {
            authority,
            scheme,
            picker: watch::Sender::new(picker),
            state: watch::Sender::new(ConnectivityState::Idle),
            queue: Mutex::new(Queue::default()),
            core: Mutex::new(Core {
                target,
                builder,
                resolver: None,
                balancer: policy.build(),
                config: Arc::new(config),
                runtime: None,
                subchannels: Vec::new(),
            }),
        })
    }

    /// Starts connecting if IDLE; needs a tokio runtime (does nothing outside one).
    pub(crate) fn exit_idle(self: &Arc<Self>) {
        match Handle::try_current() {
            Ok(runtime) => self.push(Event::ExitIdle(runtime)),
            Err(_) => tracing::debug!("a channel can only connect inside a tokio runtime"),
        }
    }

    pub(crate) fn resolver_update(self: &Arc<Self>, state: ResolverState) {
        self.push(Event::Resolved(state));
    }

    pub(crate) fn resolver_error(self: &Arc<Self>, status: Status) {
        self.push(Event::ResolverError(status));
    }

    pub(crate) fn subchannel_update(
        self: &Arc<Self>,
        subchannel: Subchannel,
        state: SubchannelState,
    ) {
        self.push(Event::Subchannel(subchannel, state));
    }

    pub(crate) fn reset_backoff(self: &Arc<Self>) {
        self.push(Event::ResetBackoff);
    }

    fn push(self: &Arc<Self>, event: Event) {
        {
            let mut queue = lock(&self.queue);
            queue.events.push_back(event);
            if queue.draining {
                return;
            }
            queue.draining = true;
        }
        // If a balancer or resolver panics here, the next event drains the queue.
        struct Draining<'a> {
            queue: &'a Mutex<Queue>,
            done: bool,
        }
        impl Drop for Draining<'_> {
            fn drop(&mut self) {
                if !self.done {
                    lock(self.queue).draining = false;
                }
            }
        }
        let mut draining = Draining {
            queue: &self.queue,
            done: false,
        };
        loop {
            let event = {
                let mut queue = lock(&self.queue);
                match queue.events.pop_front() {
                    Some(event) => event,
                    None => {
                        // Under the same lock as the check in a concurrent push.
                        queue.draining = false;
                        draining.done = true;
                        return;
                    }
                }
            };
            self.handle(event);
        }
    }

    fn handle(self: &Arc<Self>, event: Event) {
        let mut core = lock(&self.core);
        let Core {
            target,
            builder,
            resolver,
            balancer,
            config,
            runtime,
            subchannels,
        } = &mut *core;
        let mut error = None;
        match &event {
            Event::ExitIdle(handle) => {
                *runtime = Some(handle.clone());
                if resolver.is_none() {
                    self.state.send_if_modified(|state| {
                        let idle = *state == ConnectivityState::Idle;
                        if idle {
                            *state = ConnectivityState::Connecting;
                        }
                        idle
                    });
                    // A synchronous resolver queues its first state: handled right after.
                    // The drain may run on a thread outside the runtime (an application
                    // thread updating a ManualResolver): builders may spawn.
                    let _runtime = handle.enter();
                    let sink = ResolverSink::new(Arc::downgrade(self));
                    match builder.build(target, sink) {
                        Ok(built) => *resolver = Some(built),
                        Err(e) => {
                            error =
                                Some(Status::unavailable(format!("name resolution failed: {e}")))
                        }
                    }
                    if error.is_none() {
                        return;
                    }
                }
            }
            Event::Subchannel(subchannel, state) if state.state == ConnectivityState::Shutdown => {
                subchannels.retain(|s| s != subchannel);
            }
            Event::ResetBackoff => {
                for subchannel in subchannels.iter() {
                    subchannel.reset_backoff();
                }
                return;
            }
            _ => {}
        }
        let mut helper = Helper {
            control: self,
            config,
            runtime: runtime.as_ref(),
            subchannels,
            resolver: resolver.as_deref(),
        };
        match event {
            Event::ExitIdle(_) => match error {
                Some(status) => balancer.resolver_error(&status, &mut helper),
                None => balancer.exit_idle(&mut helper),
            },
            Event::Resolved(state) => balancer.resolver_update(&state, &mut helper),
            Event::ResolverError(status) => balancer.resolver_error(&status, &mut helper),
            Event::Subchannel(subchannel, state) => {
                balancer.subchannel_update(&subchannel, &state, &mut helper)
            }
            Event::ResetBackoff => {}
        }
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        let core = self.core.get_mut().unwrap_or_else(PoisonError::into_inner);
        core.resolver = None;
        for subchannel in core.subchannels.drain(..) {
            subchannel.shutdown();
        }
        self.state.send_replace(ConnectivityState::Shutdown);
    }
}

/// The balancer's view of its channel.
struct Helper<'a> {
    control: &'a Arc<Control>,
    config: &'a Arc<SubchannelConfig>,
    runtime: Option<&'a Handle>,
    subchannels: &'a mut Vec<Subchannel>,
    resolver: Option<&'a dyn Resolver>,
}

impl ChannelController for Helper<'_> {
    fn new_subchannel(&mut self, address: &Address) -> Subchannel {
        let current = Handle::try_current().ok();
        let runtime = self.runtime.or(current.as_ref());
        let subchannel = Subchannel::new(
            address.clone(),
            self.config.clone(),
            Arc::downgrade(self.control),
            runtime,
        );
        self.subchannels.push(subchannel.clone());
        subchannel
    }

    fn update_picker(&mut self, state: ConnectivityState, picker: Arc<dyn Picker>) {
        self.control.state.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
        self.control.picker.send_replace(picker);
    }

    fn request_resolution(&mut self) {
        if let Some(resolver) = self.resolver {
            resolver.resolve_now();
        }
    }
}
