//! Loopback servers for the tests: a hyper server (plain or TLS), and raw TCP listeners for
//! behaviour a well-behaved server will not produce.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type ServerBody = BoxBody<Bytes, BoxError>;
type Handler = Arc<
    dyn Fn(
            http::Request<Incoming>,
        ) -> Pin<Box<dyn Future<Output = http::Response<ServerBody>> + Send>>
        + Send
        + Sync,
>;

/// A guard against hangs: a test that would wait forever fails instead. Not a timing assertion.
pub(crate) const HANG_GUARD: Duration = Duration::from_secs(20);

pub(crate) async fn guard<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .expect("the operation hung")
}

/// A running hyper server on 127.0.0.1.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Server {
    /// Starts a plain-HTTP server (HTTP/1.1 and HTTP/2 with prior knowledge) answering with
    /// `handler`.
    pub(crate) async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(http::Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = http::Response<ServerBody>> + Send + 'static,
    {
        Self::start_inner(handler, None).await
    }

    /// Starts a TLS server with `certificate` (ALPN: h2, http/1.1).
    pub(crate) async fn start_tls<F, Fut>(handler: F, certificate: &TestCertificate) -> Self
    where
        F: Fn(http::Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = http::Response<ServerBody>> + Send + 'static,
    {
        Self::start_inner(handler, Some(certificate.acceptor())).await
    }

    async fn start_inner<F, Fut>(handler: F, tls: Option<tokio_rustls::TlsAcceptor>) -> Self
    where
        F: Fn(http::Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = http::Response<ServerBody>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |request| Box::pin(handler(request)));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(request).await) }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    // Errors here are the client going away, which several tests do on purpose.
                    match tls {
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                    }
                });
            }
        });
        Self { addr, connections }
    }

    /// How many TCP connections the server accepted.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub(crate) fn full(body: impl Into<Bytes>) -> ServerBody {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A response body fed by the test, frame by frame; dropping the sender ends it.
pub(crate) fn channel_body() -> (tokio::sync::mpsc::Sender<Bytes>, ServerBody) {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(1);
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        let data = receiver.recv().await?;
        Some((Ok::<_, BoxError>(Frame::data(data)), receiver))
    });
    (sender, StreamBody::new(stream).boxed())
}

pub(crate) fn response(status: u16, body: ServerBody) -> http::Response<ServerBody> {
    let mut response = http::Response::new(body);
    *response.status_mut() = http::StatusCode::from_u16(status).expect("valid status");
    response
}

/// A self-signed certificate for some host names.
pub(crate) struct TestCertificate {
    pub(crate) der: Vec<u8>,
    key_der: Vec<u8>,
}

impl TestCertificate {
    pub(crate) fn new(names: &[&str]) -> Self {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
        Self {
            der: certified.cert.der().to_vec(),
            key_der: certified.signing_key.serialize_der(),
        }
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(self.key_der.clone().into());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.der.clone().into()], key)
            .expect("server config");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

/// A TCP listener whose connections the test handles by hand.
pub(crate) struct RawListener {
    pub(crate) addr: SocketAddr,
    pub(crate) listener: TcpListener,
}

impl RawListener {
    pub(crate) async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        Self { addr, listener }
    }

    pub(crate) async fn accept(&self) -> TcpStream {
        self.listener.accept().await.expect("accept").0
    }
}

/// Reads an HTTP/1 request head (up to the blank line) from a raw connection.
pub(crate) async fn read_head(stream: &mut TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.expect("read request");
        if n == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("ASCII head")
}
