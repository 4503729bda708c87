//! A loopback TCP proxy in front of the emulator that can, on command, stage a network
//! outage: drop every open connection, then for a window either refuse new connections (the
//! port is closed) or accept them and never forward a byte (a hung server or a black hole).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// How the proxy behaves during an outage window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outage {
    /// New connections are refused: the listening port is closed for the window.
    Refuse,
    /// New connections are accepted and held, and nothing is forwarded either way.
    BlackHole,
}

/// An outage to stage, and who to tell once it has begun.
type Command = (Outage, Duration, oneshot::Sender<()>);

/// The running proxy; stops when dropped.
pub(crate) struct Proxy {
    addr: SocketAddr,
    commands: mpsc::UnboundedSender<Command>,
    accepted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().unwrap();
        let (commands, receiver) = mpsc::unbounded_channel();
        let accepted = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(run(listener, upstream, receiver, Arc::clone(&accepted)));
        Self {
            addr,
            commands,
            accepted,
            task,
        }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far (those accepted during a black-hole window included).
    pub(crate) fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Drops every open connection and keeps the network down for `window`; returns once the
    /// outage has begun.
    pub(crate) async fn outage(&self, kind: Outage, window: Duration) {
        let (begun, ack) = oneshot::channel();
        self.commands
            .send((kind, window, begun))
            .expect("the proxy is running");
        ack.await.expect("the proxy is running");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    mut listener: TcpListener,
    upstream: SocketAddr,
    mut commands: mpsc::UnboundedReceiver<Command>,
    accepted: Arc<AtomicU64>,
) {
    let addr = listener.local_addr().unwrap();
    // Bumping the generation drops every forwarding task of earlier generations.
    let (generation, _) = watch::channel(0u64);
    loop {
        tokio::select! {
            Ok((socket, _)) = listener.accept() => {
                accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(forward(socket, upstream, generation.subscribe()));
            }
            Some((kind, window, begun)) = commands.recv() => {
                generation.send_modify(|g| *g += 1);
                listener = outage(listener, addr, kind, window, begun, &accepted).await;
            }
            else => return,
        }
    }
}

/// Keeps the network down for `window`; returns the listener to go on with.
async fn outage(
    listener: TcpListener,
    addr: SocketAddr,
    kind: Outage,
    window: Duration,
    begun: oneshot::Sender<()>,
    accepted: &AtomicU64,
) -> TcpListener {
    match kind {
        Outage::Refuse => {
            drop(listener);
            let _ = begun.send(());
            tokio::time::sleep(window).await;
            // The port was ours a moment ago; take it back.
            for _ in 0..100 {
                if let Ok(listener) = TcpListener::bind(addr).await {
                    return listener;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("could not listen on {addr} again after the outage");
        }
        Outage::BlackHole => {
            let _ = begun.send(());
            let mut held = Vec::new();
            let end = tokio::time::sleep(window);
            tokio::pin!(end);
            loop {
                tokio::select! {
                    () = &mut end => return listener,
                    Ok((socket, _)) = listener.accept() => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        held.push(socket);
                    }
                }
            }
        }
    }
}

async fn forward(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut generation: watch::Receiver<u64>,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = generation.changed() => {}
    }
}
