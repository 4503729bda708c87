//! What last went wrong between the tool and its server, for the line that says the tool is
//! waiting for it: every request of the job's client goes through [`Watched`], which keeps
//! the last failure (a connection that could not be made, an answer of 429 or 5xx) until a
//! request succeeds, and every reconnect of a stream reports its failure too.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use parallel_client::transport::{Body, Transport, TransportError};

/// The last failure of a request to the server since one last succeeded; shared by the
/// client's transport and whoever reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct LastFailure(Arc<Mutex<Option<String>>>);

impl LastFailure {
    /// The failure, in words, if the last request failed.
    pub(crate) fn get(&self) -> Option<String> {
        self.0.lock().map_or(None, |last| last.clone())
    }

    /// Records a failure (an error and its causes, or an answer), or a success (`None`).
    pub(crate) fn set(&self, failure: Option<String>) {
        if let Ok(mut last) = self.0.lock() {
            *last = failure;
        }
    }
}

/// An error and its causes, on one line.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

/// A transport that records in a [`LastFailure`] how each request ended.
#[derive(Debug)]
pub(crate) struct Watched<T> {
    inner: T,
    last: LastFailure,
}

impl<T> Watched<T> {
    pub(crate) fn new(inner: T, last: LastFailure) -> Self {
        Self { inner, last }
    }
}

impl<T: Transport> Transport for Watched<T> {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Body>, TransportError>> + Send {
        let last = self.last.clone();
        let sending = self.inner.send(request);
        async move {
            let result = sending.await;
            last.set(match &result {
                Ok(response) => failed_answer(response.status()),
                Err(error) => Some(chain(error)),
            });
            result
        }
    }
}

/// An answer that means the server is in trouble or busy: `429` and `5xx`.
fn failed_answer(status: http::StatusCode) -> Option<String> {
    (status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS)
        .then(|| format!("the server answered {status}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_or_failing_answers_are_failures() {
        assert_eq!(
            failed_answer(http::StatusCode::SERVICE_UNAVAILABLE).as_deref(),
            Some("the server answered 503 Service Unavailable")
        );
        assert!(failed_answer(http::StatusCode::TOO_MANY_REQUESTS).is_some());
        assert_eq!(failed_answer(http::StatusCode::OK), None);
        assert_eq!(failed_answer(http::StatusCode::NOT_FOUND), None);
    }

    #[test]
    fn the_last_failure_lasts_until_a_success() {
        let last = LastFailure::default();
        last.set(Some("refused".into()));
        assert_eq!(last.clone().get().as_deref(), Some("refused"));
        last.set(None);
        assert_eq!(last.get(), None);
    }
}
