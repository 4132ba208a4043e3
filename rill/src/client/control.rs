//! A channel's control plane: the resolver, the load balancer and the subchannels, driven by
//! events that run one at a time (grpc-go's callback serializer, without a task).
//!
//! Events come from anywhere (a call leaving IDLE, a resolver's task, a subchannel's task, the
//! application's `ManualResolver::update`). Whoever queues an event while nobody is draining
//! drains the queue on the spot; an event queued during the drain (including by the
//! balancer itself) is handled right after. The data plane only reads what this publishes:
//! the picker and the aggregate state, through `watch` channels.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;

use super::subchannel::{Subchannel, SubchannelConfig};
use super::ConnectivityState;
use crate::balancer::{
    Activity, ChannelController, LbPolicy, LoadBalancer, Picker, QueuePicker, SubchannelState,
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
    /// A timer a balancer asked for, tagged with the balancer's generation.
    Timer(u64),
    /// A subchannel's calls failed as many times in a row as its balancer asked to hear of.
    CallsFailing,
    /// No calls for the idle timeout: drop the resolver, the balancer and the connections.
    EnterIdle,
    /// A new load-balancing policy (from a service config).
    #[allow(dead_code)]
    SwitchPolicy(Arc<dyn LbPolicy>),
}

pub(crate) struct Control {
    pub(crate) authority: String,
    pub(crate) scheme: &'static str,
    pub(crate) picker: watch::Sender<Arc<dyn Picker>>,
    pub(crate) state: watch::Sender<ConnectivityState>,
    queue: Mutex<Queue>,
    core: Mutex<Core>,
    /// Calls in flight and the time of the last one, for the idle timeout.
    pub(crate) activity: Arc<Activity>,
    idle_timeout: Option<Duration>,
    /// The idle timer task runs.
    idle_timer: AtomicBool,
    /// Client-side health checking: the service name subchannels watch.
    health_check: Mutex<Option<String>>,
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
    policy: Arc<dyn LbPolicy>,
    /// Counts balancers built, so that an old balancer's timers are ignored.
    generation: u64,
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
        policy: Arc<dyn LbPolicy>,
        config: SubchannelConfig,
    ) -> Arc<Control> {
        let picker: Arc<dyn Picker> = Arc::new(QueuePicker);
        Arc::new(Control {
            activity: Arc::new(Activity::default()),
            idle_timeout: config.conn.idle_timeout,
            idle_timer: AtomicBool::new(false),
            health_check: Mutex::new(config.conn.health_check_service.clone()),
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
                policy,
                generation: 0,
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

    /// Runs the balancer's `timer` now: a subchannel's calls keep failing.
    pub(crate) fn calls_failing(self: &Arc<Self>) {
        self.push(Event::CallsFailing);
    }

    /// Replaces the load-balancing policy (a service config's `loadBalancingConfig`): the
    /// old balancer's subchannels are shut down and the new one gets the last addresses on
    /// the next resolution.
    #[allow(dead_code)] // for the service config's loadBalancingConfig
    pub(crate) fn switch_policy(self: &Arc<Self>, policy: Arc<dyn LbPolicy>) {
        self.push(Event::SwitchPolicy(policy));
    }

    /// Sets the service name subchannels health-check from now on (`None`: no checking);
    /// connections made from now on use it.
    #[allow(dead_code)] // for the service config's healthCheckConfig
    pub(crate) fn set_health_check_service(&self, service: Option<String>) {
        *lock(&self.health_check) = service;
    }

    /// The service name subchannels health-check, if any.
    pub(crate) fn health_check_service(&self) -> Option<String> {
        lock(&self.health_check).clone()
    }

    /// Checks every idle timeout whether the channel has been without calls that long
    /// (grpc-go's idleness manager); enters IDLE if so.
    fn start_idle_timer(self: &Arc<Self>, runtime: &Handle) {
        let Some(timeout) = self.idle_timeout else {
            return;
        };
        if self.idle_timer.swap(true, Ordering::AcqRel) {
            return;
        }
        let control = Arc::downgrade(self);
        runtime.spawn(idle_timer(control, timeout));
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
            policy,
            generation,
            config,
            runtime,
            subchannels,
        } = &mut *core;
        let mut error = None;
        match &event {
            Event::Timer(tag) if tag != generation => return,
            Event::EnterIdle | Event::SwitchPolicy(_) => {
                if let Event::SwitchPolicy(new) = &event {
                    if new.name() == policy.name() && resolver.is_some() {
                        return; // same policy: keep the connections
                    }
                    *policy = new.clone();
                }
                *generation += 1;
                *balancer = policy.build();
                for subchannel in subchannels.drain(..) {
                    subchannel.shutdown();
                }
                // The resolver restarts (and feeds the new balancer) on the next call.
                *resolver = None;
                self.picker.send_replace(Arc::new(QueuePicker));
                self.state.send_replace(ConnectivityState::Idle);
                if matches!(event, Event::SwitchPolicy(_)) && runtime.is_some() {
                    drop(core);
                    self.exit_idle();
                }
                return;
            }
            Event::ExitIdle(handle) => {
                *runtime = Some(handle.clone());
                self.start_idle_timer(handle);
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
            generation: *generation,
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
            Event::Timer(_) | Event::CallsFailing => balancer.timer(&mut helper),
            Event::ResetBackoff | Event::EnterIdle | Event::SwitchPolicy(_) => {}
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
    generation: u64,
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

    fn schedule_timer(&mut self, after: Duration) {
        let Some(runtime) = self.runtime.cloned().or_else(|| Handle::try_current().ok()) else {
            return;
        };
        let control = Arc::downgrade(self.control);
        let generation = self.generation;
        runtime.spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(control) = control.upgrade() {
                control.push(Event::Timer(generation));
            }
        });
    }
}

/// The idle timer's task: ends when the channel goes IDLE (a call restarts it) or is dropped.
async fn idle_timer(control: Weak<Control>, timeout: Duration) {
    let mut wait = timeout;
    loop {
        tokio::time::sleep(wait).await;
        let Some(channel) = control.upgrade() else {
            return;
        };
        match channel.activity.idle_for() {
            None => wait = timeout, // calls in flight
            Some(idle) if idle < timeout => wait = timeout - idle,
            Some(_) => {
                tracing::debug!(
                    ?timeout,
                    "no calls for the idle timeout: the channel goes IDLE"
                );
                channel.idle_timer.store(false, Ordering::Release);
                channel.push(Event::EnterIdle);
                return;
            }
        }
    }
}
