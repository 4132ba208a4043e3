//! Load generation shared by rill's (`bench-client`) and tonic's (`tonic-bench-client`)
//! benchmark clients: both run exactly this code, only the [`BenchClient`] behind it differs.
//!
//! Every mode prints one line of `key=value` fields on stdout (`bench/run` stores them) and
//! exits with status 1 when any call failed (a non-OK status, a wrong payload size), so a
//! server that answers wrongly fails the run, while a slow one never does.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Sizes of the messages a client sends: `response_size` asked of the server, and the
/// request's own payload.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// `SimpleRequest.response_size`: the payload size the server answers with.
    pub response: i32,
    /// Bytes of `SimpleRequest.payload.body`.
    pub payload: usize,
}

/// What a held-open call keeps alive (dropped at exit).
pub type Held = Box<dyn Send>;

/// The calls the benchmark makes; implemented for rill's and tonic's generated clients.
pub trait BenchClient: Clone + Send + Sync + Sized + 'static {
    /// Opens one connection to `target` (`http://HOST:PORT`).
    fn connect(target: &str, sizes: Sizes) -> impl Future<Output = Result<Self, String>> + Send;
    /// One `UnaryCall`; fails unless the reply carries `sizes.response` bytes.
    fn unary(&self) -> impl Future<Output = Result<(), String>> + Send;
    /// A `StreamingFromServer` call: reads `messages` replies, then drops the stream (the
    /// server streams until cancelled). Returns the payload bytes received.
    fn server_stream(&self, messages: u64) -> impl Future<Output = Result<u64, String>> + Send;
    /// A `StreamingFromClient` call sending until `until`, then half-closing and waiting for
    /// the reply. Returns the messages sent.
    fn client_stream(&self, until: Instant) -> impl Future<Output = Result<u64, String>> + Send;
    /// A `StreamingCall` (ping-pong) until `until`: each request waits for its reply; every
    /// round trip (µs) goes into `hist`. Half-closes at the end, so the call completes.
    fn ping_pong<'a>(
        &'a self,
        until: Instant,
        hist: &'a mut Histogram<u64>,
    ) -> impl Future<Output = Result<u64, String>> + Send + 'a;
    /// Opens a `StreamingCall`, completes one round trip and keeps the call open.
    fn hold(&self) -> impl Future<Output = Result<Held, String>> + Send;
}

/// The parsed command line of a benchmark client.
#[derive(Debug, Clone)]
pub struct Opts {
    mode: String,
    target: String,
    sizes: Sizes,
    conns: usize,
    concurrency: usize,
    duration: f64,
    warmup: f64,
    rate: f64,
    count: u64,
    streams: usize,
    messages: u64,
}

const USAGE: &str = "usage: CLIENT MODE --target http://HOST:PORT [options]
modes:  peak           closed loop, CONNS x CONCURRENCY calls in flight for DURATION s
        rate           open loop at RATE calls/s (latency from each call's scheduled time)
        count          COUNT calls, CONCURRENCY in flight on one connection (for callgrind)
        server-stream  STREAMS StreamingFromServer calls on one connection, MESSAGES each
        client-stream  one StreamingFromClient call sending for DURATION s
        ping-pong      one StreamingCall, request/reply round trips for DURATION s
        hold           CONNS connections; after a line on stdin, STREAMS held StreamingCalls
                       per connection; exits when stdin closes
options: --response-size N (10) --payload N (10) --conns N (1) --concurrency N (64)
         --duration S (2) --warmup S (0.5) --rate R --count N --streams N (1) --messages N";

impl Opts {
    /// Parses `MODE --flag value ...`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Opts, String> {
        let mut it = args.into_iter();
        let mode = it.next().ok_or(USAGE)?;
        let mut o = Opts {
            mode,
            target: String::new(),
            sizes: Sizes {
                response: 10,
                payload: 10,
            },
            conns: 1,
            concurrency: 64,
            duration: 2.0,
            warmup: 0.5,
            rate: 0.0,
            count: 0,
            streams: 1,
            messages: 0,
        };
        while let Some(flag) = it.next() {
            let v = it
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            let num = |v: &str| -> Result<f64, String> {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| format!("{flag} {v}: not a number"))
            };
            match flag.as_str() {
                "--target" => o.target = v,
                "--response-size" => o.sizes.response = num(&v)?.min(i32::MAX as f64) as i32,
                "--payload" => o.sizes.payload = num(&v)? as usize,
                "--conns" => o.conns = num(&v)?.max(1.0) as usize,
                "--concurrency" => o.concurrency = num(&v)?.max(1.0) as usize,
                "--duration" => o.duration = num(&v)?,
                "--warmup" => o.warmup = num(&v)?,
                "--rate" => o.rate = num(&v)?,
                "--count" => o.count = num(&v)? as u64,
                "--streams" => o.streams = num(&v)? as usize,
                "--messages" => o.messages = num(&v)? as u64,
                _ => return Err(format!("unknown option {flag}\n{USAGE}")),
            }
        }
        if o.target.is_empty() {
            return Err(format!("--target is required\n{USAGE}"));
        }
        Ok(o)
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 100 s, 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid histogram bounds")
}

fn percentiles(h: &Histogram<u64>) -> String {
    format!(
        "p50_us={} p99_us={} p999_us={} max_us={}",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    )
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

async fn connect_all<C: BenchClient>(o: &Opts, n: usize) -> Result<Vec<C>, String> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(C::connect(&o.target, o.sizes).await?);
    }
    Ok(clients)
}

/// Failed calls and the first error seen.
#[derive(Default)]
struct Errors {
    count: u64,
    first: Option<String>,
}

impl Errors {
    fn add(&mut self, e: String) {
        self.count += 1;
        self.first.get_or_insert(e);
    }
}

type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Closed loop: every worker calls again as soon as its call returns.
async fn peak<C: BenchClient>(o: &Opts) -> Result<(String, Errors), String> {
    let clients = connect_all::<C>(o, o.conns).await?;
    let hist = Arc::new(Mutex::new(histogram()));
    let errors: Shared<Errors> = Arc::default();
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(o.warmup);
    let end = measure_from + Duration::from_secs_f64(o.duration);
    let mut tasks = Vec::new();
    for c in &clients {
        for _ in 0..o.concurrency {
            let (c, hist, errors) = (c.clone(), hist.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                let mut mine = histogram();
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    let r = c.unary().await;
                    if let Err(e) = r {
                        lock(&errors).add(e);
                    } else if t0 >= measure_from {
                        let _ = mine.record(micros(t0.elapsed()));
                    }
                }
                let _ = lock(&hist).add(&mine);
            }));
        }
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    let h = lock(&hist).clone();
    let rps = h.len() as f64 / o.duration;
    let errors = std::mem::take(&mut *lock(&errors));
    Ok((
        format!("rps={rps:.0} calls={} {}", h.len(), percentiles(&h)),
        errors,
    ))
}

/// Open loop at a fixed rate over `conns` connections; each call's latency counts from the
/// moment it was scheduled, so a stalled server is charged for the calls it delayed.
///
/// A dispatcher hands each call, as it falls due, to one of `RATE_WORKERS` long-lived worker
/// tasks (round robin; a worker makes one call at a time and queues the rest): no task, lock
/// or shared histogram per call, so the generator itself keeps up with the rates asked of it.
async fn rate<C: BenchClient>(o: &Opts) -> Result<(String, Errors), String> {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    const MAX_IN_FLIGHT: u64 = 20_000;
    const RATE_WORKERS: usize = 1024;
    if o.rate <= 0.0 {
        return Err("rate needs --rate R > 0".into());
    }
    let clients = connect_all::<C>(o, o.conns).await?;
    let in_flight = Arc::new(AtomicU64::new(0));
    let interval = 1.0 / o.rate;
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(o.warmup);
    let end = measure_from + Duration::from_secs_f64(o.duration);
    let mut queues = Vec::with_capacity(RATE_WORKERS);
    let mut workers = Vec::with_capacity(RATE_WORKERS);
    for k in 0..RATE_WORKERS {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, bool)>();
        queues.push(tx);
        let (c, in_flight) = (clients[k % clients.len()].clone(), in_flight.clone());
        workers.push(tokio::spawn(async move {
            let (mut mine, mut errors) = (histogram(), Errors::default());
            while let Some((scheduled, record)) = rx.recv().await {
                let r = c.unary().await;
                let took = micros(scheduled.elapsed());
                in_flight.fetch_sub(1, Relaxed);
                match r {
                    Err(e) => errors.add(e),
                    Ok(()) if record => {
                        let _ = mine.record(took);
                    }
                    Ok(()) => {}
                }
            }
            (mine, errors)
        }));
    }
    let (mut issued, mut dropped, mut measured) = (0u64, 0u64, 0u64);
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let due = ((now - start).as_secs_f64() / interval) as u64;
        while issued <= due {
            let scheduled = start + Duration::from_secs_f64(issued as f64 * interval);
            let record = scheduled >= measure_from;
            let worker = issued as usize % RATE_WORKERS;
            issued += 1;
            if in_flight.load(Relaxed) >= MAX_IN_FLIGHT {
                dropped += u64::from(record);
                continue;
            }
            measured += u64::from(record);
            in_flight.fetch_add(1, Relaxed);
            let _ = queues[worker].send((scheduled, record));
        }
        let next = start + Duration::from_secs_f64(issued as f64 * interval);
        let wait = next.saturating_duration_since(Instant::now());
        if wait > Duration::from_millis(2) {
            tokio::time::sleep(wait - Duration::from_millis(1)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    drop(queues);
    let mut h = histogram();
    let mut errors = Errors::default();
    for w in workers {
        let (mine, errs) = w.await.map_err(|e| e.to_string())?;
        let _ = h.add(&mine);
        errors.count += errs.count;
        if let Some(e) = errs.first {
            errors.first.get_or_insert(e);
        }
    }
    Ok((
        format!(
            "target_rps={:.0} rps={:.0} calls={} dropped={dropped} {}",
            o.rate,
            measured as f64 / o.duration,
            h.len(),
            percentiles(&h)
        ),
        errors,
    ))
}

/// A fixed number of calls on one connection (for instruction counts under callgrind).
async fn count<C: BenchClient>(o: &Opts) -> Result<(String, Errors), String> {
    let client = C::connect(&o.target, o.sizes).await?;
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let errors: Shared<Errors> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..o.concurrency {
        let (c, next, errors, n) = (client.clone(), next.clone(), errors.clone(), o.count);
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                if let Err(e) = c.unary().await {
                    lock(&errors).add(e);
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    let errors = std::mem::take(&mut *lock(&errors));
    Ok((format!("calls={}", o.count), errors))
}

async fn server_stream<C: BenchClient>(o: &Opts) -> Result<(String, Errors), String> {
    let client = C::connect(&o.target, o.sizes).await?;
    let streams = o.streams.max(1);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let (c, n) = (client.clone(), o.messages);
        tasks.push(tokio::spawn(async move { c.server_stream(n).await }));
    }
    let mut errors = Errors::default();
    let mut bytes = 0u64;
    for t in tasks {
        match t.await.map_err(|e| e.to_string())? {
            Ok(b) => bytes += b,
            Err(e) => errors.add(e),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((
        format!(
            "mb_per_s={:.1} bytes={bytes} secs={secs:.3} messages={}",
            bytes as f64 / secs / 1e6,
            o.messages * streams as u64
        ),
        errors,
    ))
}

async fn client_stream<C: BenchClient>(o: &Opts) -> Result<(String, Errors), String> {
    let client = C::connect(&o.target, o.sizes).await?;
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(o.duration);
    let mut errors = Errors::default();
    let sent = client.client_stream(until).await.unwrap_or_else(|e| {
        errors.add(e);
        0
    });
    let secs = start.elapsed().as_secs_f64();
    Ok((
        format!(
            "msgs_per_s={:.0} messages={sent} secs={secs:.3}",
            sent as f64 / secs
        ),
        errors,
    ))
}

async fn ping_pong<C: BenchClient>(o: &Opts) -> Result<(String, Errors), String> {
    let client = C::connect(&o.target, o.sizes).await?;
    let mut hist = histogram();
    // Warm-up on its own call, so the measured one starts on a warm connection.
    let mut scratch = histogram();
    let warm_until = Instant::now() + Duration::from_secs_f64(o.warmup);
    let mut errors = Errors::default();
    if let Err(e) = client.ping_pong(warm_until, &mut scratch).await {
        errors.add(e);
    }
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(o.duration);
    let rounds = client
        .ping_pong(until, &mut hist)
        .await
        .unwrap_or_else(|e| {
            errors.add(e);
            0
        });
    let secs = start.elapsed().as_secs_f64();
    Ok((
        format!(
            "rounds_per_s={:.0} rounds={rounds} {}",
            rounds as f64 / secs,
            percentiles(&hist)
        ),
        errors,
    ))
}

/// Opens `conns` connections (each completes one call, so the HTTP/2 handshake is done), then
/// on a line from stdin `streams` held calls per connection; prints a line after each phase.
async fn hold<C: BenchClient>(o: &Opts) -> Result<(String, Errors), String> {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut clients = Vec::with_capacity(o.conns);
    let mut errors = Errors::default();
    // A few hundred handshakes at a time: fast, without a SYN flood on the listen backlog.
    for chunk in (0..o.conns).collect::<Vec<_>>().chunks(200) {
        let mut set = tokio::task::JoinSet::new();
        for _ in chunk {
            let (target, sizes) = (o.target.clone(), o.sizes);
            set.spawn(async move {
                let c = C::connect(&target, sizes).await?;
                c.unary().await?;
                Ok::<C, String>(c)
            });
        }
        while let Some(r) = set.join_next().await {
            match r.map_err(|e| e.to_string())? {
                Ok(c) => clients.push(c),
                Err(e) => errors.add(e),
            }
        }
    }
    println!("connections={}", clients.len());
    let mut held: Vec<Held> = Vec::new();
    if o.streams > 0
        && lines
            .next_line()
            .await
            .map_err(|e| e.to_string())?
            .is_some()
    {
        for c in &clients {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..o.streams {
                let c = c.clone();
                set.spawn(async move { c.hold().await });
            }
            while let Some(r) = set.join_next().await {
                match r.map_err(|e| e.to_string())? {
                    Ok(h) => held.push(h),
                    Err(e) => errors.add(e),
                }
            }
        }
        println!("streams={}", held.len());
    }
    while let Ok(Some(_)) = lines.next_line().await {}
    drop(held);
    Ok((format!("connections={}", clients.len()), errors))
}

/// Runs the client named `program` with the command line, on a current-thread runtime.
pub fn client_main<C: BenchClient>(program: &str) {
    let o = match Opts::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{program}: {msg}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match o.mode.as_str() {
            "peak" => peak::<C>(&o).await,
            "rate" => rate::<C>(&o).await,
            "count" => count::<C>(&o).await,
            "server-stream" => server_stream::<C>(&o).await,
            "client-stream" => client_stream::<C>(&o).await,
            "ping-pong" => ping_pong::<C>(&o).await,
            "hold" => hold::<C>(&o).await,
            other => Err(format!("unknown mode {other}\n{USAGE}")),
        }
    });
    match result {
        Ok((line, errors)) => {
            println!("{line} errors={}", errors.count);
            if let Some(first) = errors.first {
                eprintln!("{program}: {} call(s) failed; first: {first}", errors.count);
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::exit(1);
        }
    }
}
