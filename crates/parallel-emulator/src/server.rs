//! The HTTP server: accepting connections, serving them with hyper (HTTP/1.1 and HTTP/2),
//! and shutting down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::App;
use crate::config::{EmulatorBuilder, Faults, ScheduledOutage};
use crate::connections::{Connections, hold_unanswered, refuse_over_cap, refuse_until_over};
use crate::error::Error;
use crate::idle::{Activity, TrackedBody};
use crate::outage::OutageMode;
use crate::random::OsRandom;
use crate::slot::Slot;
use crate::stats::{Counters, Stats};
use crate::webhook::WebhookDelivery;

/// How long shutdown waits for open connections to finish before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long an idle connection told to close (an HTTP/2 `GOAWAY`) is given to do so before it
/// is dropped: a peer that never answers the `GOAWAY`'s ping must not keep it open.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// A local server of the Parallel Task Group API.
///
/// See the [crate documentation](crate) for an example.
#[derive(Debug)]
pub struct Emulator {
    _private: (),
}

impl Emulator {
    /// Settings with their defaults: `127.0.0.1:0`, no API key, time scale `0.01`, seed `0`,
    /// no failures, no faults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

impl EmulatorBuilder {
    /// Binds the socket and starts serving on the current Tokio runtime.
    pub async fn start(self) -> Result<EmulatorHandle, Error> {
        self.validate().map_err(Error::config)?;
        // Not derived from the seed, which is often shared, nor from anything guessable.
        let webhook_secret = match &self.webhook_secret {
            Some(secret) => secret.clone(),
            None => OsRandom::new().secret().map_err(Error::config)?,
        };
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|e| Error::bind(self.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::bind(self.listen, e))?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let app = Arc::new(App::new(&self, webhook_secret, shutdown_rx.clone()));
        tokio::spawn(Arc::clone(&app.scheduler).run(shutdown_rx.clone()));
        for planned in &self.outages {
            tokio::spawn(planned_outage(
                Arc::clone(&app),
                *planned,
                shutdown_rx.clone(),
            ));
        }
        let connections = Connections {
            header_read_timeout: self.header_read_timeout,
            max: self.max_connections,
        };
        let server = tokio::spawn(serve(
            listener,
            addr,
            Arc::clone(&app),
            connections,
            shutdown_rx,
        ));
        Ok(EmulatorHandle {
            addr,
            app,
            shutdown: shutdown_tx,
            server: Some(server),
        })
    }
}

/// Starts an outage planned with [`EmulatorBuilder::outage`] when its time comes.
async fn planned_outage(
    app: Arc<App>,
    planned: ScheduledOutage,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::select! {
        () = tokio::time::sleep(planned.start_after) => {
            app.outages.start(planned.mode, planned.duration);
        }
        _ = shutdown.wait_for(|down| *down) => {}
    }
}

async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    app: Arc<App>,
    connections: Connections,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(connections.header_read_timeout);
    let open = Arc::new(AtomicUsize::new(0));
    // Bumped to drop every open connection (a refusing outage).
    let (kill, _) = watch::channel(0u64);
    let mut outages = app.outages.subscribe();
    let mut listener = listener;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Accept errors (e.g. too many open files) are transient; back off briefly.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                if app.outages.hanging() {
                    tokio::spawn(hold_unanswered(Arc::clone(&app), stream));
                    continue;
                }
                let Some(slot) = Slot::take(&open, connections.max) else {
                    Counters::bump(&app.counters.connections_over_cap, 1);
                    tokio::spawn(refuse_over_cap(stream, app.error_body_over_cap()));
                    continue;
                };
                let task = ConnectionTask {
                    app: Arc::clone(&app),
                    builder: builder.clone(),
                    _graceful: graceful.watcher(),
                    header_read_timeout: connections.header_read_timeout,
                    killed: kill.subscribe(),
                    shutdown: shutdown.clone(),
                };
                tokio::spawn(task.run(stream, slot));
            }
            _ = outages.changed() => {
                if app.outages.current().is_some_and(|w| w.mode == OutageMode::Refuse) {
                    drop(listener);
                    kill.send_modify(|generation| *generation += 1);
                    match refuse_until_over(&app, addr, &mut shutdown).await {
                        Some(bound) => listener = bound,
                        None => break,
                    }
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// What serving one connection needs besides the connection.
struct ConnectionTask {
    app: Arc<App>,
    builder: auto::Builder<TokioExecutor>,
    /// Held while the connection is served: shutdown waits (a while) for it to end.
    _graceful: Watcher,
    header_read_timeout: Duration,
    /// Changes when a refusing outage drops every connection.
    killed: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
}

impl ConnectionTask {
    /// Serves the connection until it ends, a refusing outage drops it, the emulator shuts
    /// down before its first request, or it carries no request for `header_read_timeout`.
    async fn run(mut self, stream: TcpStream, _slot: Slot) {
        // A clone sees the same changes: the one to watch beside the borrowed task.
        let mut killed = self.killed.clone();
        let app = Arc::clone(&self.app);
        let serve = async {
            // hyper's header timer starts once the protocol is known, which takes a first
            // byte: a connection that never sends one is closed here.
            let mut first = [0u8; 1];
            let peeked = tokio::select! {
                peeked = tokio::time::timeout(self.header_read_timeout, stream.peek(&mut first)) => peeked,
                _ = self.shutdown.wait_for(|down| *down) => return,
            };
            if !matches!(peeked, Ok(Ok(n)) if n > 0) {
                return;
            }
            self.serve(stream).await;
        };
        tokio::select! {
            () = serve => {}
            _ = killed.changed() => {
                Counters::bump(&app.counters.outage_connections, 1);
            }
        }
    }

    /// Serves HTTP/1 or HTTP/2 on the connection. It is closed gracefully (an HTTP/2
    /// `GOAWAY`) on shutdown, and when no request has been in flight on it for
    /// `header_read_timeout`: an idle HTTP/2 connection has no header timer of its own.
    async fn serve(&mut self, stream: TcpStream) {
        let activity = Activity::new();
        let service = service_fn({
            let app = Arc::clone(&self.app);
            let activity = activity.clone();
            move |req| {
                let in_flight = activity.begin();
                let handled = Arc::clone(&app).handle(req);
                async move {
                    let response = handled.await?;
                    Ok::<_, crate::api::DropConnection>(
                        response.map(|body| TrackedBody::new(body, in_flight)),
                    )
                }
            }
        });
        let conn = self.builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        let mut idle_close = None;
        let mut closing = false;
        let result = loop {
            let grace_over = async {
                match idle_close {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = conn.as_mut() => break result,
                () = activity.idle_for(self.header_read_timeout), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                    idle_close = Some(tokio::time::Instant::now() + IDLE_CLOSE_GRACE);
                }
                _ = self.shutdown.wait_for(|down| *down), if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                () = grace_over => return,
            }
        };
        // Errors here are clients going away, cut streams or lost responses.
        if let Err(e) = result {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}

/// A running emulator. Dropping it stops the server without waiting; prefer
/// [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct EmulatorHandle {
    addr: SocketAddr,
    app: Arc<App>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`: no trailing slash and no `/v1`, ready to be a client's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the server has done so far.
    pub fn stats(&self) -> Stats {
        self.app.counters.snapshot()
    }

    /// Runs created so far, in groups and alone.
    pub fn run_count(&self) -> u64 {
        self.stats().runs_created
    }

    /// Replaces the fault settings; streams already open keep the ones they started with.
    pub fn set_faults(&self, faults: Faults) {
        *self
            .app
            .faults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = faults;
    }

    /// Starts an outage now, for `duration`; see [`OutageMode`]. An outage in progress is
    /// replaced. After the window the server works as before, with its state intact.
    pub fn outage(&self, mode: OutageMode, duration: Duration) {
        self.app.outages.start(mode, duration);
    }

    /// Sets the runs the account can still pay for (`None`: unlimited); see
    /// [`EmulatorBuilder::credits`].
    pub fn set_credits(&self, runs: Option<u64>) {
        self.app.credits.set(runs);
    }

    /// The runs the account can still pay for (`None`: unlimited).
    pub fn credits(&self) -> Option<u64> {
        self.app.credits.get()
    }

    /// Sets the work-creating requests allowed per minute (`None`: no limit), starting with a
    /// full bucket; see [`EmulatorBuilder::rate_limit`].
    pub fn set_rate_limit(&self, per_minute: Option<u32>) {
        self.app.rate_limit.set(per_minute);
    }

    /// Every webhook delivery so far (the latest 10,000), oldest first.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.app.webhooks.deliveries()
    }

    /// The account's webhook secret: the one set with [`EmulatorBuilder::webhook_secret`], or
    /// the random one made at start.
    pub fn webhook_secret(&self) -> &str {
        &self.app.webhooks.secret.0
    }

    /// Makes the next request whose path contains `path_fragment` (e.g. `"/runs"`) be
    /// processed in full and then answered by dropping the connection: the client cannot tell
    /// whether its request took effect. Each call arms one such request.
    pub fn lose_next_response(&self, path_fragment: &str) {
        self.app
            .lose_next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(path_fragment.to_owned());
    }

    /// Stops accepting connections, ends open event streams, and waits (up to a few seconds)
    /// for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
