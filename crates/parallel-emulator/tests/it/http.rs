//! A minimal HTTP/1.1 client over loopback TCP (hyper's connection API, one connection per
//! request), and an SSE frame splitter written for these tests.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpStream;

/// A finished response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("UTF-8 body")
    }

    /// Asserts an `ErrorResponse` with `status` and returns its message.
    pub fn expect_error(&self, status: StatusCode) -> String {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        let v = self.json();
        assert_eq!(v["type"], "error", "{v}");
        let ref_id = v["error"]["ref_id"].as_str().expect("ref_id");
        assert!(is_uuid(ref_id), "ref_id {ref_id} is a dashed UUID");
        assert!(
            v["error"].as_object().unwrap().contains_key("detail"),
            "{v}"
        );
        // The shared wire types read it too.
        let typed: parallel_types::ErrorResponse =
            serde_json::from_slice(&self.body).expect("ErrorResponse");
        typed.error.message
    }
}

pub fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What a streaming response delivered before it ended.
#[derive(Debug)]
pub struct Streamed {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Whether the body ended cleanly (false: the connection broke mid-body).
    pub clean: bool,
    /// Number of body frames received.
    pub pieces: usize,
}

/// A client for one emulator.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub key: Option<String>,
    /// Extra headers sent with every request.
    pub headers: Vec<(String, String)>,
}

impl Client {
    pub fn new(base_url: &str) -> Client {
        let addr = base_url
            .strip_prefix("http://")
            .expect("http base URL")
            .parse()
            .expect("socket address");
        Client {
            addr,
            key: None,
            headers: Vec::new(),
        }
    }

    pub fn with_key(mut self, key: &str) -> Client {
        self.key = Some(key.to_owned());
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Client {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper::Error> {
        let stream = TcpStream::connect(self.addr)
            .await
            .expect("connect to the emulator");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if let Some(key) = &self.key {
            builder = builder.header("x-api-key", key);
        }
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("request");
        sender.send_request(request).await
    }

    /// Sends a request and reads the whole answer; panics if there is none.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.try_call(method, path, body.map(|b| serde_json::to_vec(&b).unwrap()))
            .await
            .expect("a response")
    }

    /// Sends raw body bytes; `Err` when the server dropped the connection without answering.
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, hyper::Error> {
        let response = self.send(method, path, body).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Reads a streaming answer to its end or until the connection breaks.
    pub async fn stream(&self, path: &str) -> Streamed {
        let response = self
            .send(Method::GET, path, None)
            .await
            .expect("response headers");
        let (parts, mut body) = response.into_parts();
        let mut data = BytesMut::new();
        let mut pieces = 0;
        let clean = loop {
            match body.frame().await {
                None => break true,
                Some(Ok(frame)) => {
                    if let Ok(chunk) = frame.into_data() {
                        pieces += 1;
                        data.extend_from_slice(&chunk);
                    }
                }
                Some(Err(_)) => break false,
            }
        };
        Streamed {
            status: parts.status,
            headers: parts.headers,
            body: data.freeze(),
            clean,
            pieces,
        }
    }
}

/// An HTTP/2 connection (prior knowledge) to `addr`, served by a task of its own; requests
/// on it name their authority in their URI.
pub async fn http2(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr)
        .await
        .expect("connect to the emulator");
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(conn);
    sender
}

/// One SSE frame as the tests read it: the `event:` name and the single `data:` line.
#[derive(Debug, Clone)]
pub struct Frame {
    pub event: String,
    pub data: Value,
    pub raw_data: String,
}

/// Splits an event stream written by the emulator, checking its exact shape on the way:
/// every block is either `: comment` or `event: T\ndata: JSON`, separated by one blank line,
/// with no `id:` or `retry:` lines and the event name equal to the JSON `type`. Returns the
/// frames, the number of comments, and the unterminated tail (if the stream was cut).
pub fn split_frames(body: &[u8]) -> (Vec<Frame>, usize, String) {
    let text = std::str::from_utf8(body).map_or_else(
        |e| String::from_utf8_lossy(&body[..e.valid_up_to()]).into_owned(),
        str::to_owned,
    );
    let mut frames = Vec::new();
    let mut comments = 0;
    let mut rest = text.as_str();
    while let Some(end) = rest.find("\n\n") {
        let block = &rest[..end];
        rest = &rest[end + 2..];
        if let Some(comment) = block.strip_prefix(':') {
            assert!(!comment.contains('\n'), "one-line comment: {block:?}");
            comments += 1;
            continue;
        }
        let mut lines = block.split('\n');
        let event = lines
            .next()
            .and_then(|l| l.strip_prefix("event: "))
            .unwrap_or_else(|| panic!("event line: {block:?}"));
        let data = lines
            .next()
            .and_then(|l| l.strip_prefix("data: "))
            .unwrap_or_else(|| panic!("data line: {block:?}"));
        assert!(
            lines.next().is_none(),
            "exactly two lines per frame: {block:?}"
        );
        assert!(!block.contains('\r'), "no carriage returns");
        let value: Value =
            serde_json::from_str(data).unwrap_or_else(|e| panic!("data is JSON ({e}): {data}"));
        assert_eq!(value["type"], event, "event name equals the JSON type");
        // Compact JSON: writing the value back compactly gives the same number of bytes.
        assert_eq!(
            serde_json::to_string(&value).unwrap().len(),
            data.len(),
            "compact JSON: {data}"
        );
        frames.push(Frame {
            event: event.to_owned(),
            data: value,
            raw_data: data.to_owned(),
        });
    }
    (frames, comments, rest.to_owned())
}
