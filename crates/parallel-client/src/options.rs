//! Per-call options: what one request adds to the client's settings.
//!
//! The official SDKs take `extra_headers`, `extra_query`, `extra_body` and `timeout` on every
//! method, so that a field or header the API gains can be sent the day it ships. Here they
//! are one type, [`RequestOptions`], set on any request before it is awaited (its setters are
//! on [`PendingRequest`](crate::PendingRequest) too) or given to a stream's options.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use crate::beta::Beta;
use crate::error::Error;
use crate::request::{Call, Deadline, PathBuilder};

/// What one call adds to the client's settings: headers, query parameters, body fields, a
/// timeout and betas. [`Default`] adds nothing.
///
/// Every request method returns a [`PendingRequest`](crate::PendingRequest), which has these
/// same setters; a `RequestOptions` value is for options prepared once and given to several
/// calls ([`PendingRequest::options`](crate::PendingRequest::options)) or to a stream
/// ([`GroupRunsOptions::request_options`](crate::GroupRunsOptions::request_options),
/// [`GroupEventsOptions::request_options`](crate::GroupEventsOptions::request_options)).
///
/// ```
/// use std::time::Duration;
/// use parallel_client::{Beta, RequestOptions};
///
/// let options = RequestOptions::default()
///     .header("x-trace-id", "4bf92f35")
///     .query("refresh_status", "false")
///     .body_field("previous_interaction_id", "trun_123")
///     .timeout(Duration::from_secs(30))
///     .betas([Beta::FieldBasis]);
/// // Header values may be credentials: `Debug` shows their names only.
/// assert!(!format!("{options:?}").contains("4bf92f35"));
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct RequestOptions {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: serde_json::Map<String, serde_json::Value>,
    timeout: Option<Duration>,
    betas: Vec<Beta>,
}

/// The setters of [`RequestOptions`], on it and on every type that carries one (`$field`).
macro_rules! request_option_setters {
    ($($field:ident)?) => {
        /// Adds a header to this call, after the client's own (a header of the same name set
        /// on the client is replaced; `x-api-key` cannot be). Checked when the call is sent;
        /// the value is treated as sensitive.
        #[must_use = "a setter returns the changed value"]
        pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self$(.$field)?.push_header(name.into(), value.into());
            self
        }

        /// Adds a query parameter to this call's URL (after the ones the call sets itself),
        /// percent-encoded.
        #[must_use = "a setter returns the changed value"]
        pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
            self$(.$field)?.push_query(key.into(), value.into());
            self
        }

        /// Sets a field of this call's JSON body, replacing one the call would send: a field
        /// the API gained after this client was released can be sent now. Only calls that
        /// send a body take body fields; a call without one fails with
        /// [`Error::is_config`](crate::Error::is_config).
        #[must_use = "a setter returns the changed value"]
        pub fn body_field(
            mut self,
            key: impl Into<String>,
            value: impl Into<serde_json::Value>,
        ) -> Self {
            self$(.$field)?.insert_body_field(key.into(), value.into());
            self
        }

        /// The longest time this call may take in all, retries and waits included; past it
        /// the call fails with [`Error::is_timeout`](crate::Error::is_timeout). Default: the
        /// client's per-attempt timeouts only (and, for calls that wait for a run,
        /// [`DEFAULT_RESULT_TIMEOUT`](crate::DEFAULT_RESULT_TIMEOUT)).
        #[must_use = "a setter returns the changed value"]
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self$(.$field)?.set_timeout(timeout);
            self
        }

        /// Betas to send in the `parallel-beta` header, besides those the call's beta fields
        /// need (which are added by themselves; see [`Beta`](crate::Beta)).
        #[must_use = "a setter returns the changed value"]
        pub fn betas(mut self, betas: impl IntoIterator<Item = crate::Beta>) -> Self {
            self$(.$field)?.extend_betas(betas);
            self
        }
    };
}
pub(crate) use request_option_setters;

impl RequestOptions {
    request_option_setters!();

    pub(crate) fn push_header(&mut self, name: String, value: String) {
        self.headers.push((name, value));
    }

    pub(crate) fn push_query(&mut self, key: String, value: String) {
        self.query.push((key, value));
    }

    pub(crate) fn insert_body_field(&mut self, key: String, value: serde_json::Value) {
        self.body.insert(key, value);
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = Some(timeout);
    }

    pub(crate) fn extend_betas(&mut self, betas: impl IntoIterator<Item = Beta>) {
        for beta in betas {
            if !self.betas.contains(&beta) {
                self.betas.push(beta);
            }
        }
    }

    /// Takes the timeout off, for the parts of a call whose whole is bounded.
    pub(crate) fn clear_timeout(&mut self) {
        self.timeout = None;
    }

    /// The betas asked for.
    pub(crate) fn beta_list(&self) -> &[Beta] {
        &self.betas
    }

    /// The deadline of a call that starts now, when it has a timeout.
    pub(crate) fn deadline(&self) -> Option<Deadline> {
        self.timeout.map(Deadline::after)
    }

    /// The deadline of a call that starts now: its timeout, or `default`.
    pub(crate) fn deadline_or(&self, default: Duration) -> Deadline {
        Deadline::after(self.timeout.unwrap_or(default))
    }

    /// These options for the reads that follow a call's first request (the waits of
    /// [`Client::execute`](crate::Client::execute)): headers and betas, not the body fields
    /// and query parameters meant for that request.
    pub(crate) fn for_reads(&self) -> Self {
        Self {
            headers: self.headers.clone(),
            betas: self.betas.clone(),
            timeout: self.timeout,
            ..Self::default()
        }
    }

    /// Adds these options to a request the client built: query parameters to its path,
    /// headers, body fields merged into its JSON object, betas, and the call's deadline.
    pub(crate) fn apply(&self, call: &mut Call, deadline: Option<Deadline>) -> Result<(), Error> {
        self.apply_query_and_headers(call)?;
        if !self.body.is_empty() {
            call.body = Some(self.merged_body(call)?);
        }
        for beta in &self.betas {
            if !call.betas.contains(beta) {
                call.betas.push(beta.clone());
            }
        }
        call.deadline = deadline;
        Ok(())
    }

    /// [`RequestOptions::apply`] for a stream's connect, which has neither a body nor an end
    /// to bound: those options are refused rather than dropped.
    pub(crate) fn apply_to_stream(&self, call: &mut Call) -> Result<(), Error> {
        if let Some(timeout) = self.timeout {
            return Err(Error::config(format!(
                "{} cannot take a timeout ({timeout:?}): a stream has no end to bound; set \
                 ClientBuilder::stream_idle_timeout, or wrap the stream in \
                 tokio::time::timeout",
                call.what
            )));
        }
        self.apply(call, None)
    }

    fn apply_query_and_headers(&self, call: &mut Call) -> Result<(), Error> {
        if !self.query.is_empty() {
            let mut path = PathBuilder::new(std::mem::take(&mut call.path));
            for (key, value) in &self.query {
                path = path.query(key, value);
            }
            call.path = path.build();
        }
        for (name, value) in &self.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::config(format!("{}: invalid header name {name:?}", call.what))
            })?;
            if header == "x-api-key" {
                return Err(Error::config(format!(
                    "{}: the API key is set on the client (ClientBuilder::api_key), not per call",
                    call.what
                )));
            }
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                Error::config(format!("{}: invalid value for header {name:?}", call.what))
            })?;
            value.set_sensitive(true);
            call.headers.push((header, value));
        }
        Ok(())
    }

    fn merged_body(&self, call: &Call) -> Result<Bytes, Error> {
        let Some(body) = &call.body else {
            return Err(Error::config(format!(
                "{} sends no body, so it cannot take body fields ({}); use query parameters \
                 or headers",
                call.what,
                self.body.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| {
            Error::config(format!("{}: its body is not a JSON object", call.what)).with_source(e)
        })?;
        object.extend(self.body.iter().map(|(k, v)| (k.clone(), v.clone())));
        serde_json::to_vec(&object).map(Bytes::from).map_err(|e| {
            Error::config(format!("{}: the body cannot be encoded", call.what)).with_source(e)
        })
    }
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("RequestOptions")
            .field("headers", &headers)
            .field("query", &self.query)
            .field("body", &self.body)
            .field("timeout", &self.timeout)
            .field("betas", &self.betas)
            .finish()
    }
}
