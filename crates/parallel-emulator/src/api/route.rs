//! Routing: from a method and path to an endpoint, and the query-string parameters.

use std::time::Duration;

use http::{Method, StatusCode};

use crate::request::ApiError;
use crate::stats::Endpoint;

pub(super) struct Route {
    pub(super) endpoint: Endpoint,
    pub(super) group: Option<String>,
    pub(super) run: Option<String>,
}

pub(super) fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Not found: no endpoint at {path}"),
        )
    };
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segments = path.split('/').skip(1);
    if !matches!(segments.next(), Some("v1" | "v1beta")) || segments.next() != Some("tasks") {
        return Err(not_found());
    }
    let rest: Vec<&str> = segments.collect();
    let owned = |s: &&str| Some((*s).to_owned());
    let (endpoint, group, run, allowed): (Endpoint, Option<String>, Option<String>, &Method) =
        match rest.as_slice() {
            ["groups"] => (Endpoint::CreateGroup, None, None, &Method::POST),
            ["groups", g] => (Endpoint::GetGroup, owned(g), None, &Method::GET),
            ["groups", g, "runs"] if *method == Method::POST => {
                (Endpoint::AddRuns, owned(g), None, &Method::POST)
            }
            ["groups", g, "runs"] => (Endpoint::GroupRuns, owned(g), None, &Method::GET),
            ["groups", g, "events"] => (Endpoint::GroupEvents, owned(g), None, &Method::GET),
            ["groups", g, "runs", r] => (Endpoint::GetGroupRun, owned(g), owned(r), &Method::GET),
            ["runs"] => (Endpoint::CreateRun, None, None, &Method::POST),
            ["runs", r] => (Endpoint::GetRun, None, owned(r), &Method::GET),
            ["runs", r, "result"] => (Endpoint::RunResult, None, owned(r), &Method::GET),
            ["runs", r, "input"] => (Endpoint::RunInput, None, owned(r), &Method::GET),
            ["runs", r, "events"] => (Endpoint::RunEvents, None, owned(r), &Method::GET),
            _ => return Err(not_found()),
        };
    if method != allowed {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method not allowed: {method} {path}; this endpoint accepts {allowed}"),
        ));
    }
    Ok(Route {
        endpoint,
        group,
        run,
    })
}

/// Decoded query parameters.
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(query: &str) -> Result<Query, ApiError> {
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let decode = |s: &str| {
                percent_decode(s).ok_or_else(|| {
                    ApiError::validation(
                        "query",
                        format!("`{part}` is not valid percent-encoded UTF-8"),
                    )
                })
            };
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Query(pairs))
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "True" | "1" | "yes" | "on") => Ok(Some(true)),
            Some("false" | "False" | "0" | "no" | "off") => Ok(Some(false)),
            Some(other) => Err(ApiError::validation(
                key,
                format!("`{other}` is not a boolean; use true or false"),
            )),
        }
    }

    /// A `last_event_id`: absent or empty means from the start.
    pub(super) fn cursor(&self, key: &str) -> Result<u64, ApiError> {
        match self.get(key) {
            None | Some("" | "null") => Ok(0),
            Some(v) => v.parse::<u64>().map_err(|_| {
                ApiError::validation(key, format!("`{v}` is not an event id from this stream; pass the event_id of the last event received"))
            }),
        }
    }

    /// A number of seconds, at most `max`.
    pub(super) fn seconds(&self, key: &str, max: Duration) -> Result<Option<Duration>, ApiError> {
        match self.get(key) {
            None | Some("" | "null") => Ok(None),
            Some(v) => {
                let secs = v.parse::<f64>().map_err(|_| {
                    ApiError::validation(key, format!("`{v}` is not a number of seconds >= 0"))
                })?;
                crate::bounds::seconds(key, secs, max)
                    .map(Some)
                    .map_err(|problem| ApiError::validation(key, problem))
            }
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_both_prefixes_and_rejects_wrong_methods() {
        let r = route(&Method::POST, "/v1beta/tasks/groups/tgrp_x/runs").unwrap();
        assert_eq!(r.endpoint, Endpoint::AddRuns);
        assert_eq!(r.group.as_deref(), Some("tgrp_x"));
        let r = route(&Method::GET, "/v1/tasks/groups/g/runs/r").unwrap();
        assert_eq!(
            (r.endpoint, r.run.as_deref()),
            (Endpoint::GetGroupRun, Some("r"))
        );
        assert_eq!(
            route(&Method::GET, "/v1/tasks/runs/r/events/")
                .unwrap()
                .endpoint,
            Endpoint::RunEvents
        );
        assert_eq!(
            route(&Method::GET, "/v1/tasks/groups")
                .err()
                .unwrap()
                .status,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            route(&Method::GET, "/v2/tasks/runs/r")
                .err()
                .unwrap()
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            route(&Method::GET, "/v1/tasks/runs/r/output")
                .err()
                .unwrap()
                .status,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn query_decoding_and_typed_values() {
        let q = Query::parse("a=1&status=com%70leted&x=a+b&flag=true").unwrap();
        assert_eq!(q.get("status"), Some("completed"));
        assert_eq!(q.get("x"), Some("a b"));
        assert_eq!(q.bool("flag").unwrap(), Some(true));
        assert!(q.bool("status").is_err());
        assert!(Query::parse("a=%zz").is_err());
        let q = Query::parse("last_event_id=abc&timeout=1.5").unwrap();
        assert!(q.cursor("last_event_id").is_err());
        let day = Duration::from_secs(86_400);
        assert_eq!(
            q.seconds("timeout", day).unwrap(),
            Some(Duration::from_millis(1500))
        );
        for bad in ["timeout=1e19", "timeout=-1", "timeout=x", "timeout=inf"] {
            let e = Query::parse(bad)
                .unwrap()
                .seconds("timeout", day)
                .unwrap_err();
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
    }
}
