//! `--base-url` as a command-line user gives it: checked before any client is built, so that
//! credentials in it are refused without being repeated, and plain http to another machine is
//! refused with what to do on the command line.

use crate::error::Error;

/// Checks `url`: no `user:password@`, and `http://` only to this machine.
pub(crate) fn check(url: &str) -> Result<(), Error> {
    let trimmed = url.trim();
    let (scheme, rest) = trimmed.split_once("://").unwrap_or(("", trimmed));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if let Some((_, host)) = authority.rsplit_once('@') {
        return Err(Error::usage(format!(
            "--base-url must not carry credentials (`user:password@`); give the API key in \
             PARALLEL_API_KEY instead, and the URL as {scheme}://{host}/..."
        )));
    }
    if scheme.eq_ignore_ascii_case("http") && !is_loopback(authority) {
        return Err(Error::usage(format!(
            "--base-url {trimmed}: plain http:// to another machine would send the API key \
             unencrypted; use https://, or reach that server through a tunnel to this machine \
             (e.g. `ssh -L 8080:127.0.0.1:8080 HOST`, then --base-url http://127.0.0.1:8080)"
        )));
    }
    Ok(())
}

/// Whether a `host[:port]` names this machine.
fn is_loopback(authority: &str) -> bool {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_refused_without_being_repeated() {
        let err = check("https://alice:s3cret@api.example.com/v1").unwrap_err();
        assert!(err.is_usage());
        let text = err.to_string();
        assert!(
            !text.contains("s3cret") && !text.contains("alice"),
            "{text}"
        );
        assert!(text.contains("https://api.example.com/..."), "{text}");
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        assert!(check("http://127.0.0.1:8080").is_ok());
        assert!(check("http://localhost:8080/").is_ok());
        assert!(check("http://[::1]:80").is_ok());
        assert!(check("https://api.parallel.ai").is_ok());
        let err = check("http://10.0.0.5:8080").unwrap_err();
        assert!(err.to_string().contains("ssh -L"), "{err}");
        assert!(!err.to_string().contains("HyperTransportBuilder"), "{err}");
    }
}
