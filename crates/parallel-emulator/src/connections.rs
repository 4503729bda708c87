//! Connection-level behaviour: the cap on open connections, and what an outage does to
//! connections (held without an answer, or refused until the port is bound again).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::api::App;
use crate::outage::OutageMode;
use crate::stats::Counters;

/// Settings for connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Connections {
    pub(crate) header_read_timeout: Duration,
    pub(crate) max: usize,
}

/// How long an over-cap connection is given to send its request before the `503`, and to
/// read the answer before it is closed.
const OVER_CAP_GRACE: Duration = Duration::from_secs(1);

/// Answers a connection beyond the cap with a plain `503` and closes it. The request is read
/// first (briefly), so that closing does not reset the connection before the answer arrives.
pub(crate) async fn refuse_over_cap(mut stream: TcpStream, body: Vec<u8>) {
    let mut request = [0u8; 8192];
    let _ = tokio::time::timeout(OVER_CAP_GRACE, stream.read(&mut request)).await;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).await.is_err() || stream.write_all(&body).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    let drain = async { while matches!(stream.read(&mut request).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(OVER_CAP_GRACE, drain).await;
}

/// Holds a connection accepted during a hang outage without a byte, and closes it when the
/// outage ends.
pub(crate) async fn hold_unanswered(app: Arc<App>, stream: TcpStream) {
    Counters::bump(&app.counters.outage_connections, 1);
    app.outages.hang_over().await;
    drop(stream);
}

/// Keeps the port closed while a refusing outage lasts, then binds the same address again.
/// `None` when the emulator shut down meanwhile.
pub(crate) async fn refuse_until_over(
    app: &App,
    addr: SocketAddr,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<TcpListener> {
    while let Some(window) = app
        .outages
        .current()
        .filter(|w| w.mode == OutageMode::Refuse)
    {
        tokio::select! {
            () = tokio::time::sleep_until(window.until) => {}
            _ = shutdown.wait_for(|down| *down) => return None,
        }
    }
    let mut backoff = Duration::from_millis(10);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Some(listener),
            Err(e) => {
                tracing::warn!(%addr, error = %e, "could not bind the port again after an outage; retrying");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|down| *down) => return None,
        }
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}
