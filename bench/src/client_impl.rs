//! [`crate::load::BenchClient`] for a generated `BenchmarkServiceClient`: one macro, so rill's
//! and tonic's clients run the very same calls (the two generated APIs have the same shape:
//! `SimpleRequest`, `Response::into_inner`, `Streaming::message`).

/// Implements `bench::load::BenchClient` for `$name`, a wrapper holding a generated client
/// `$client` (field `c`) and the prebuilt request (field `req`); `$replies` is its
/// `Streaming<SimpleResponse>`. `SimpleRequest`,
/// `SimpleResponse` and `Payload` must be in scope; `$connect` turns `$target: &str` into
/// `Result<$client, String>`.
#[macro_export]
macro_rules! impl_bench_client {
    ($name:ident, $client:ty, $replies:ty, |$target:ident| $connect:expr) => {
        #[derive(Clone)]
        struct $name {
            c: $client,
            req: SimpleRequest,
            want: usize,
        }

        impl $name {
            fn check(&self, r: &SimpleResponse) -> Result<usize, String> {
                let got = r.payload.as_ref().map_or(0, |p| p.body.len());
                if got == self.want {
                    Ok(got)
                } else {
                    Err(format!("reply of {got} bytes, expected {}", self.want))
                }
            }
        }

        impl $crate::load::BenchClient for $name {
            async fn connect($target: &str, sizes: $crate::load::Sizes) -> Result<Self, String> {
                let c: $client = $connect.await?;
                let req = SimpleRequest {
                    response_size: sizes.response,
                    payload: (sizes.payload > 0).then(|| Payload {
                        r#type: 0,
                        body: vec![0; sizes.payload].into(),
                    }),
                    ..Default::default()
                };
                Ok($name {
                    c,
                    req,
                    want: sizes.response.max(0) as usize,
                })
            }

            async fn unary(&self) -> Result<(), String> {
                #[allow(unused_mut)]
                let mut c = self.c.clone();
                let r = c
                    .unary_call(self.req.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                self.check(r.get_ref()).map(drop)
            }

            async fn server_stream(&self, messages: u64) -> Result<u64, String> {
                #[allow(unused_mut)]
                let mut c = self.c.clone();
                let mut s = c
                    .streaming_from_server(self.req.clone())
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner();
                let mut bytes = 0u64;
                for _ in 0..messages {
                    match s.message().await.map_err(|e| e.to_string())? {
                        Some(r) => bytes += self.check(&r)? as u64,
                        None => return Err("server stream ended early".into()),
                    }
                }
                Ok(bytes)
            }

            async fn client_stream(&self, until: std::time::Instant) -> Result<u64, String> {
                let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                let (req, counter) = (self.req.clone(), sent.clone());
                let requests = futures_util::stream::unfold((), move |()| {
                    // At least one message, so the reply is for a real request.
                    let more = counter.load(std::sync::atomic::Ordering::Relaxed) == 0
                        || std::time::Instant::now() < until;
                    if more {
                        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    let m = more.then(|| (req.clone(), ()));
                    async move { m }
                });
                #[allow(unused_mut)]
                let mut c = self.c.clone();
                let r = c
                    .streaming_from_client(requests)
                    .await
                    .map_err(|e| e.to_string())?;
                self.check(r.get_ref())?;
                Ok(sent.load(std::sync::atomic::Ordering::Relaxed))
            }

            async fn ping_pong<'a>(
                &'a self,
                until: std::time::Instant,
                hist: &'a mut hdrhistogram::Histogram<u64>,
            ) -> Result<u64, String> {
                let (tx, mut s) = self.open_ping_pong().await?;
                let mut t0 = std::time::Instant::now();
                let mut rounds = 0u64;
                loop {
                    // The first round trip (call set-up) is not counted.
                    if rounds > 0 {
                        let _ = hist.record((t0.elapsed().as_micros() as u64).max(1));
                    }
                    rounds += 1;
                    if std::time::Instant::now() >= until {
                        break;
                    }
                    t0 = std::time::Instant::now();
                    tx.send(self.req.clone())
                        .await
                        .map_err(|_| "request stream closed".to_string())?;
                    match s.message().await.map_err(|e| e.to_string())? {
                        Some(r) => self.check(&r)?,
                        None => return Err("ping-pong call ended early".into()),
                    };
                }
                drop(tx); // half-close: the server ends the call with OK
                while s.message().await.map_err(|e| e.to_string())?.is_some() {}
                Ok(rounds - 1)
            }

            async fn hold(&self) -> Result<$crate::load::Held, String> {
                let held = self.open_ping_pong().await?;
                Ok(Box::new(held))
            }
        }

        impl $name {
            /// Opens a StreamingCall and completes one round trip. The first request is queued
            /// before the call starts: some servers send headers only with the first reply.
            async fn open_ping_pong(
                &self,
            ) -> Result<(tokio::sync::mpsc::Sender<SimpleRequest>, $replies), String> {
                let (tx, rx) = tokio::sync::mpsc::channel::<SimpleRequest>(1);
                let requests = futures_util::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|m| (m, rx))
                });
                tx.send(self.req.clone())
                    .await
                    .map_err(|_| "request stream closed".to_string())?;
                #[allow(unused_mut)]
                let mut c = self.c.clone();
                let mut s = c
                    .streaming_call(requests)
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner();
                match s.message().await.map_err(|e| e.to_string())? {
                    Some(r) => self.check(&r)?,
                    None => return Err("ping-pong call ended early".into()),
                };
                Ok((tx, s))
            }
        }
    };
}
