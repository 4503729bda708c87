//! The HTTP server: accepting connections, serving them with hyper (HTTP/1.1 and HTTP/2),
//! and shutting down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::App;
use crate::config::{EmulatorBuilder, Faults};
use crate::error::Error;
use crate::stats::Stats;

/// How long shutdown waits for open connections to finish before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|e| Error::bind(self.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::bind(self.listen, e))?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let app = Arc::new(App::new(&self, shutdown_rx.clone()));
        tokio::spawn(Arc::clone(&app.scheduler).run(shutdown_rx.clone()));
        let server = tokio::spawn(serve(listener, Arc::clone(&app), shutdown_rx));
        Ok(EmulatorHandle {
            addr,
            app,
            shutdown: shutdown_tx,
            server: Some(server),
        })
    }
}

async fn serve(listener: TcpListener, app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Accept errors (e.g. too many open files) are transient; back off briefly.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let app = Arc::clone(&app);
                let service = service_fn(move |req| Arc::clone(&app).handle(req));
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // Errors here are clients going away, cut streams or lost responses.
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
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
