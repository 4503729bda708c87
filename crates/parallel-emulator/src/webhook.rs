//! Webhooks: where a run's deliveries go, how they are signed, and
//! one delivery attempt over plain HTTP.
//!
//! A delivery is `POST`ed with `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`
//! (standard base64 with padding; the key is the secret's UTF-8 bytes), and the body
//! `{"timestamp": <ISO 8601>, "type": "task_run.status", "data": <TaskRun>}`.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpStream;

/// The only webhook event type.
pub(crate) const TASK_RUN_STATUS: &str = "task_run.status";

/// A secret that never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where one run's webhook goes.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) url: String,
    /// The host to connect to: a name, or an IP address without brackets.
    host: String,
    port: u16,
    /// The `Host` header: `host:port`, an IPv6 address in brackets.
    host_header: String,
    path: String,
    /// The run's own secret; else the emulator's.
    pub(crate) secret: Option<Secret>,
}

/// Reads a run input's `webhook` (already checked for its field types). `None` when there is
/// none, or when it asks for no `task_run.status` events. Any URL that is not plain `http`
/// to a loopback host is refused, with what is wrong with its `url`: the emulator never sends
/// traffic off the machine.
pub(crate) fn target(value: Option<&Value>) -> Result<Option<Target>, String> {
    let Some(hook) = value.and_then(Value::as_object) else {
        return Ok(None);
    };
    let url = hook.get("url").and_then(Value::as_str).unwrap_or_default();
    let refuse = |problem: String| problem;
    let uri: Uri = url
        .parse()
        .map_err(|e| refuse(format!("`{url}` is not a URL ({e})")))?;
    if uri.scheme_str() != Some("http") {
        return Err(refuse(format!(
            "`{url}`: the emulator delivers webhooks over plain http only"
        )));
    }
    let host = uri.host().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(refuse(format!(
            "`{host}` is not a loopback host; the emulator delivers webhooks only to http://127.x.x.x, localhost or [::1], never off the machine"
        )));
    }
    let port = port(&uri).map_err(|problem| refuse(format!("`{url}`: {problem}")))?;
    let wanted = hook
        .get("event_types")
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t == TASK_RUN_STATUS));
    if !wanted {
        return Ok(None);
    }
    let host_header = if bare.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{bare}]:{port}")
    } else {
        format!("{bare}:{port}")
    };
    Ok(Some(Target {
        url: url.to_owned(),
        host: bare.to_owned(),
        port,
        host_header,
        path: uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        secret: hook
            .get("secret")
            .and_then(Value::as_str)
            .map(|s| Secret(s.to_owned())),
    }))
}

/// The port of an `http` URL: the one written, which must be a number from 1 to 65535 (the
/// `http` crate reads `:99999` as no port at all), else 80.
fn port(uri: &Uri) -> Result<u16, String> {
    let authority = uri.authority().map_or("", http::uri::Authority::as_str);
    // After the userinfo, and after the brackets of an IPv6 address.
    let host_and_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, rest)| rest);
    let after_host = match host_and_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(_, rest)| rest),
        None => host_and_port.find(':').map_or("", |i| &host_and_port[i..]),
    };
    match after_host.strip_prefix(':') {
        None | Some("") => Ok(80),
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| format!("`{text}` is not a port (1 to 65535)")),
    }
}

/// The `webhook-signature` value for one delivery.
pub(crate) fn sign(secret: &Secret, id: &str, timestamp: u64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.0.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

/// What became of one webhook, as [`EmulatorHandle::webhook_deliveries`] and
/// `GET /_emulator/webhooks` list it.
///
/// [`EmulatorHandle::webhook_deliveries`]: crate::EmulatorHandle::webhook_deliveries
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// The `webhook-id` header, the same on every attempt.
    pub webhook_id: String,
    /// The run the event is about.
    pub run_id: String,
    /// Where it was sent.
    pub url: String,
    /// The run's status in the event (`completed` or `failed`).
    pub run_status: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Whether an attempt was answered with a 2xx.
    pub delivered: bool,
    /// Whether the emulator has stopped trying (delivered, or out of attempts).
    pub finished: bool,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

/// One signed delivery: headers and body as sent.
pub(crate) struct Signed<'a> {
    pub(crate) id: &'a str,
    pub(crate) timestamp: u64,
    pub(crate) signature: String,
    pub(crate) body: Bytes,
}

/// Sends one attempt; `Ok` with the answer's status, `Err` with why there was none.
pub(crate) async fn post(
    target: &Target,
    signed: Signed<'_>,
    timeout: Duration,
) -> Result<StatusCode, String> {
    let attempt = async {
        let stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| format!("could not connect: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake failed: {e}"))?;
        tokio::spawn(conn);
        let request = Request::post(target.path.as_str())
            .header(http::header::HOST, target.host_header.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", signed.id)
            .header("webhook-timestamp", signed.timestamp.to_string())
            .header("webhook-signature", signed.signature)
            .body(Full::new(signed.body))
            .map_err(|e| format!("could not build the request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status();
        // Read the answer so the receiver sees a completed exchange.
        let _ = response.into_body().collect().await;
        Ok(status)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signatures_match_a_vector_computed_elsewhere() {
        // python3 -c "import hmac,hashlib,base64; print(base64.b64encode(hmac.new(
        //   b'whsec_test', b'whevent_0001.1700000000.{\"a\":1}', hashlib.sha256).digest()).decode())"
        let secret = Secret("whsec_test".into());
        assert_eq!(
            sign(&secret, "whevent_0001", 1_700_000_000, br#"{"a":1}"#),
            "v1,LRm4Ku7p+6Yue/OB7mDyXkD5ISulthlNQYrPExC71FM="
        );
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn only_loopback_http_urls_are_accepted() {
        let hook = |url: &str| json!({"url": url, "event_types": ["task_run.status"]});
        for ok in [
            "http://127.0.0.1:8/h",
            "http://localhost:9/x?y=1",
            "http://[::1]:7/",
            "http://127.3.4.5/",
        ] {
            let t = target(Some(&hook(ok))).unwrap().unwrap();
            assert_eq!(t.url, ok);
        }
        let v6 = target(Some(&hook("http://[::1]:7/"))).unwrap().unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 7));
        assert_eq!(v6.host_header, "[::1]:7");
        let v4 = target(Some(&hook("http://localhost/x"))).unwrap().unwrap();
        assert_eq!((v4.port, v4.host_header.as_str()), (80, "localhost:80"));
        for bad_port in [
            "http://127.0.0.1:99999/h",
            "http://127.0.0.1:0/h",
            "http://[::1]:65536/h",
        ] {
            let problem = target(Some(&hook(bad_port))).unwrap_err();
            assert!(problem.contains("is not a port"), "{bad_port}: {problem}");
        }
        for bad in [
            "http://example.com/h",
            "https://127.0.0.1/h",
            "http://10.0.0.1/",
            "not a url",
        ] {
            let problem = target(Some(&hook(bad))).unwrap_err();
            assert!(!problem.is_empty(), "{bad}");
        }
        let none = json!({"url": "http://127.0.0.1:1/", "event_types": []});
        assert!(
            target(Some(&none)).unwrap().is_none(),
            "no event type asked for"
        );
        let problem = target(Some(
            &json!({"url": "http://example.com/", "event_types": []}),
        ))
        .unwrap_err();
        assert!(
            problem.contains("loopback"),
            "refused whatever the event types"
        );
    }
}
