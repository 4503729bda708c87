//! The control API under `/_emulator/`: what a test in any language needs to drive the
//! emulator (stats, faults, credit, rate limit, outages, webhook deliveries). It takes the
//! same API key as the API.

use std::time::Duration;

use http::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{App, json};
use crate::body::ResponseBody;
use crate::bounds;
use crate::config::Faults;
use crate::outage::OutageMode;
use crate::request::ApiError;
use crate::stats::Endpoint;

/// The reserved path prefix.
pub(super) const PREFIX: &str = "/_emulator/";

/// `PUT /_emulator/faults`: every field optional, absent ones off (as in [`Faults::none`]).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FaultSettings {
    rate_429: f64,
    rate_5xx: f64,
    retry_after_ms: Option<u64>,
    cut_sse_after: Option<u32>,
    cut_sse_offset: Option<usize>,
    drip_bytes: Option<usize>,
    drip_pause_ms: Option<u64>,
    lost_response_rate: f64,
    close_streams_after_secs: Option<f64>,
    error_event_after: Option<u32>,
    hang_rate: f64,
    ignore_last_event_id: bool,
    cancel_rate: f64,
    action_required_rate: f64,
    runs_in_change_order: bool,
    require_betas: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditSettings {
    credits: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitSettings {
    per_minute: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutageSettings {
    mode: String,
    secs: f64,
    /// Default 0.1 s, so that the answer to this request gets out before a refusing outage
    /// drops the connection it travels on.
    #[serde(default)]
    start_after_secs: Option<f64>,
}

impl App {
    /// Answers one control request.
    pub(super) fn control(
        &self,
        method: &Method,
        path: &str,
        body: &[u8],
    ) -> Response<ResponseBody> {
        let name = path
            .strip_prefix(PREFIX)
            .unwrap_or_default()
            .trim_end_matches('/');
        let reply = match (name, method) {
            ("stats", &Method::GET) => Ok(self.stats_json()),
            ("faults", &Method::GET) => Ok(faults_json(&self.faults())),
            ("faults", &Method::PUT) => self.put_faults(body),
            ("credits", &Method::PUT) => parse::<CreditSettings>(body).map(|s| {
                self.credits.set(s.credits);
                json!({"credits": s.credits})
            }),
            ("rate-limit", &Method::PUT) => parse::<RateLimitSettings>(body).map(|s| {
                self.rate_limit.set(s.per_minute);
                json!({"per_minute": s.per_minute})
            }),
            ("outage", &Method::POST) => self.post_outage(body),
            ("webhooks", &Method::GET) => Ok(json!({"deliveries": self.webhooks.deliveries()})),
            ("stats" | "faults" | "credits" | "rate-limit" | "outage" | "webhooks", _) => {
                Err(ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!(
                        "Method not allowed: {method} {path}; see the emulator's README for the control API"
                    ),
                ))
            }
            _ => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "Not found: no control endpoint at {path}; there are stats, faults, credits, rate-limit, outage and webhooks"
                ),
            )),
        };
        match reply {
            Ok(value) => json(
                StatusCode::OK,
                serde_json::to_vec(&value).unwrap_or_default(),
            ),
            Err(e) => self.error_response(&e),
        }
    }

    fn stats_json(&self) -> Value {
        let s = self.counters.snapshot();
        let requests: serde_json::Map<String, Value> = Endpoint::ALL
            .iter()
            .map(|e| (e.as_str().to_owned(), json!(s.requests(*e))))
            .collect();
        let bytes: serde_json::Map<String, Value> = Endpoint::ALL
            .iter()
            .map(|e| (e.as_str().to_owned(), json!(s.bytes(*e))))
            .collect();
        json!({
            "groups_created": s.groups_created,
            "runs_created": s.runs_created,
            "requests": requests,
            "bytes": bytes,
            "injected_429": s.injected_429,
            "injected_5xx": s.injected_5xx,
            "responses_lost": s.responses_lost,
            "streams_cut": s.streams_cut,
            "unauthorized": s.unauthorized,
            "requests_hung": s.requests_hung,
            "streams_closed": s.streams_closed,
            "error_events": s.error_events,
            "outage_connections": s.outage_connections,
            "outage_requests": s.outage_requests,
            "connections_over_cap": s.connections_over_cap,
            "credit_refusals": s.credit_refusals,
            "rate_limited": s.rate_limited,
            "webhook_attempts": s.webhook_attempts,
            "webhooks_delivered": s.webhooks_delivered,
            "webhooks_failed": s.webhooks_failed,
            "credits": self.credits.get(),
            "rate_limit_per_minute": self.rate_limit.get(),
        })
    }

    fn put_faults(&self, body: &[u8]) -> Result<Value, ApiError> {
        let s: FaultSettings = parse(body)?;
        let max = self.limits.max_duration;
        let seconds = |field: &str, v: f64| {
            bounds::seconds(field, v, max).map_err(|problem| ApiError::validation(field, problem))
        };
        let mut faults = Faults::none()
            .rate_429(s.rate_429)
            .rate_5xx(s.rate_5xx)
            .lost_response_rate(s.lost_response_rate)
            .hang_rate(s.hang_rate)
            .ignore_last_event_id(s.ignore_last_event_id)
            .cancel_rate(s.cancel_rate)
            .action_required_rate(s.action_required_rate)
            .runs_in_change_order(s.runs_in_change_order)
            .require_betas(s.require_betas);
        faults.retry_after = s
            .retry_after_ms
            .map_or(faults.retry_after, Duration::from_millis);
        faults.sse_cut_after_events = s.cut_sse_after;
        faults.sse_cut_offset = s.cut_sse_offset;
        faults.error_event_after = s.error_event_after;
        if let Some(bytes) = s.drip_bytes {
            faults = faults.drip(bytes, Duration::from_millis(s.drip_pause_ms.unwrap_or(10)));
        }
        if let Some(v) = s.close_streams_after_secs {
            faults = faults.close_streams_after(seconds("close_streams_after_secs", v)?);
        }
        faults
            .validate()
            .and_then(|()| faults.check_durations(max))
            .map_err(|problem| ApiError::validation("body", problem))?;
        *self
            .faults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = faults.clone();
        Ok(faults_json(&faults))
    }

    fn post_outage(&self, body: &[u8]) -> Result<Value, ApiError> {
        let s: OutageSettings = parse(body)?;
        let mode: OutageMode = s
            .mode
            .parse()
            .map_err(|problem: String| ApiError::validation("mode", problem))?;
        let max = self.limits.max_duration;
        let secs = |field: &str, v: f64| {
            bounds::seconds(field, v, max).map_err(|problem| ApiError::validation(field, problem))
        };
        let duration = secs("secs", s.secs)?;
        let after = secs("start_after_secs", s.start_after_secs.unwrap_or(0.1))?;
        let outages = std::sync::Arc::clone(&self.outages);
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            outages.start(mode, duration);
        });
        Ok(json!({"mode": s.mode, "secs": s.secs, "start_after_secs": after.as_secs_f64()}))
    }
}

/// Parses a control request body, or a `422` that says what is wrong with it.
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::validation("body", format!("is not valid for this endpoint: {e}")))
}

fn faults_json(f: &Faults) -> Value {
    json!({
        "rate_429": f.rate_429,
        "rate_5xx": f.rate_5xx,
        "retry_after_ms": f.retry_after.as_millis(),
        "cut_sse_after": f.sse_cut_after_events,
        "cut_sse_offset": f.sse_cut_offset,
        "drip_bytes": f.drip.map(|d| d.chunk_bytes),
        "drip_pause_ms": f.drip.map(|d| d.pause.as_millis()),
        "lost_response_rate": f.lost_response_rate,
        "close_streams_after_secs": f.close_streams_after.map(|d| d.as_secs_f64()),
        "error_event_after": f.error_event_after,
        "hang_rate": f.hang_rate,
        "ignore_last_event_id": f.ignore_last_event_id,
        "cancel_rate": f.cancel_rate,
        "action_required_rate": f.action_required_rate,
        "runs_in_change_order": f.runs_in_change_order,
        "require_betas": f.require_betas,
    })
}
