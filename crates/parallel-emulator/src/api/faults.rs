//! Faults injected on purpose: error answers before any work, and answers lost after it.

use std::time::Duration;

use http::{HeaderValue, Method, Response, StatusCode, header};

use super::App;
use crate::body::ResponseBody;
use crate::config::Faults;
use crate::request::ApiError;
use crate::rng::{DetRng, mix};
use crate::sse::StreamFaults;
use crate::stats::{Counters, Endpoint};

/// The connection is to be dropped without an answer (the "lost response" fault).
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response dropped on purpose (lost-response fault)")
    }
}

impl std::error::Error for DropConnection {}

impl App {
    /// A `429` or 5xx answer when the fault dice say so; `None` lets the request through.
    pub(super) fn injected_error(&self, faults: &Faults) -> Option<Response<ResponseBody>> {
        if faults.rate_429 > 0.0 || faults.rate_5xx > 0.0 {
            let roll = self.fault_roll();
            if roll < faults.rate_429 {
                Counters::bump(&self.counters.injected_429, 1);
                let e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests: quota temporarily exceeded",
                );
                return Some(with_retry_after(
                    self.error_response(&e),
                    faults.retry_after,
                ));
            }
            if roll < faults.rate_429 + faults.rate_5xx {
                Counters::bump(&self.counters.injected_5xx, 1);
                let status = [
                    StatusCode::INTERNAL_SERVER_ERROR,
                    StatusCode::BAD_GATEWAY,
                    StatusCode::SERVICE_UNAVAILABLE,
                ][usize::try_from(mix(roll.to_bits()) % 3).unwrap_or(0)];
                let e = ApiError::new(
                    status,
                    "Internal server error: the service is temporarily unavailable; retry later",
                );
                return Some(with_retry_after(
                    self.error_response(&e),
                    faults.retry_after,
                ));
            }
        }
        None
    }

    /// A `429` when the rate limit's bucket is empty and `endpoint` creates work.
    pub(super) fn rate_limited(&self, endpoint: Endpoint) -> Option<Response<ResponseBody>> {
        if !matches!(
            endpoint,
            Endpoint::CreateGroup | Endpoint::AddRuns | Endpoint::CreateRun
        ) {
            return None;
        }
        let wait = self.rate_limit.take().err()?;
        Counters::bump(&self.counters.rate_limited, 1);
        let e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many requests: quota temporarily exceeded (at most {} work-creating requests per minute); retry after {} ms",
                self.rate_limit.get().unwrap_or(0),
                wait.as_millis().max(1)
            ),
        );
        Some(with_retry_after(self.error_response(&e), wait))
    }

    /// Whether this request is one of the share that is never answered.
    pub(super) fn should_hang(&self, faults: &Faults) -> bool {
        faults.hang_rate > 0.0 && self.fault_roll() < faults.hang_rate
    }

    /// Holds the request without an answer until the emulator shuts down; the connection
    /// task is dropped sooner when the client goes away.
    pub(super) async fn hang(&self) -> DropConnection {
        Counters::bump(&self.counters.requests_hung, 1);
        let mut shutdown = self.shutdown.clone();
        let _ = shutdown.wait_for(|down| *down).await;
        DropConnection
    }

    pub(super) fn should_lose(&self, method: &Method, path: &str, faults: &Faults) -> bool {
        {
            let mut pending = self
                .lose_next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(i) = pending.iter().position(|p| path.contains(p.as_str())) {
                pending.remove(i);
                return true;
            }
        }
        *method == Method::POST
            && faults.lost_response_rate > 0.0
            && self.fault_roll() < faults.lost_response_rate
    }

    /// The faults of one new stream; `error_message` is set for the events streams, which
    /// are the ones that get an `error` event.
    pub(super) fn stream_faults(&self, error_message: Option<&'static str>) -> StreamFaults {
        let f = self.faults();
        let seed = if f.sse_cut_after_events.is_some() && f.sse_cut_offset.is_none()
            || error_message.is_some() && f.error_event_after.is_some()
        {
            self.fault_rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .next_u64()
        } else {
            0
        };
        StreamFaults {
            cut_after: f.sse_cut_after_events,
            cut_offset: f.sse_cut_offset,
            drip: f.drip,
            rng: DetRng::new(seed),
            close_at: f.close_streams_after.map(crate::clock::deadline),
            error_after: error_message.and(f.error_event_after),
            error_message: error_message.unwrap_or(""),
        }
    }
}

pub(super) fn with_retry_after(
    mut response: Response<ResponseBody>,
    wait: Duration,
) -> Response<ResponseBody> {
    // Rounded up, so that a client waiting this long finds the token there.
    let ms = wait.as_micros().div_ceil(1000);
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ms.to_string()) {
        headers.insert("retry-after-ms", v);
    }
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        headers.insert(header::RETRY_AFTER, v);
    }
    response
}
