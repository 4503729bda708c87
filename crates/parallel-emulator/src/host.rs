//! Whom a request is addressed to. With no API key, the emulator answers only requests
//! addressed to a loopback name or address: a web page on this machine whose own name an
//! attacker re-points at 127.0.0.1 (DNS rebinding) still sends its own name as `Host`, so it
//! cannot drive an emulator that has no key to check.

use std::net::IpAddr;

use http::request::Parts;
use http::uri::Authority;
use http::{StatusCode, header};

use crate::request::ApiError;

/// Longest part of a refused `Host` quoted back in the error.
const QUOTED_CHARS: usize = 80;

/// `Ok` when every authority the request names (the URI's, as HTTP/2 and absolute-form
/// requests carry it, and the `Host` header) is a loopback name or address, and there is at
/// least one; else a `403` that says why.
pub(crate) fn check_loopback(parts: &Parts) -> Result<(), ApiError> {
    let header = parts
        .headers
        .get_all(header::HOST)
        .iter()
        .map(|value| value.to_str().unwrap_or("\u{fffd}"));
    let from_uri = parts.uri.authority().map(Authority::as_str);
    let mut named = false;
    for authority in from_uri.into_iter().chain(header) {
        named = true;
        if !is_loopback_authority(authority) {
            let quoted: String = authority.chars().take(QUOTED_CHARS).collect();
            return Err(refused(&format!("Host `{quoted}`")));
        }
    }
    if named {
        Ok(())
    } else {
        Err(refused("no Host"))
    }
}

fn refused(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "Forbidden: request addressed to {what}; with no API key set, the emulator answers only requests addressed to localhost or a loopback address (127.0.0.1, [::1]); set an API key to serve others"
        ),
    )
}

/// `localhost`, a name under `.localhost` (which resolves to loopback only, RFC 6761), or a
/// loopback IP address, with or without a port.
fn is_loopback_authority(authority: &str) -> bool {
    let Ok(parsed) = authority.parse::<Authority>() else {
        return false;
    };
    if parsed.as_str().contains('@') {
        return false;
    }
    let host = parsed.host();
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses_only() {
        for ok in [
            "localhost",
            "localhost:8080",
            "LocalHost.",
            "api.localhost:1",
            "127.0.0.1",
            "127.0.0.1:9",
            "127.3.2.1:80",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:8080",
        ] {
            assert!(is_loopback_authority(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "localhostx",
            "10.0.0.1",
            "0.0.0.0:8080",
            "[::]:8080",
            "[::2]",
            "user@127.0.0.1:8080",
            "",
            "127.0.0.1 evil",
        ] {
            assert!(!is_loopback_authority(bad), "{bad}");
        }
    }
}
