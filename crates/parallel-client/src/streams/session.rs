//! One logical server-sent-event stream over as many HTTP responses as it takes.
//!
//! A [`Session`] opens the stream, hands out each event (its `type` and `event_id` read once,
//! [`Peeked`]), and when the connection fails (a connect error, a 408/429/5xx answer, a body
//! that breaks or is cut inside an event, bytes silent past the idle timeout) it waits a
//! backed-off moment and opens it again with `last_event_id` set to the last event the caller
//! took, so that no event is lost or repeated. The [`ReconnectPolicy`](crate::ReconnectPolicy)
//! bounds the consecutive failed attempts; a connection that brought a whole frame (an event
//! or a keep-alive comment, as the SSE parser reports them) resets the count, unless all it
//! brought was an `error` event. Until the server has ever answered the client, the first
//! connection is a request like any other (see [`Reachability`](crate::reconnect::Reachability)).

use std::sync::Arc;

use futures::StreamExt;
use parallel_sse::{EventStream, Frame as SseFrame, FrameStream, StreamError};
use parallel_transport::{BodyStream, TransportError};

use crate::beta::Beta;
use crate::client::Inner;
use crate::error::{Error, Kind};
use crate::reconnect::{Reconnect, address};
use crate::request::{Call, PathBuilder};
use crate::streams::peek::Peeked;
use crate::streams::watch::{Watched, is_silence};

/// One open connection: its frames, and whether a whole frame arrived on it.
struct Connection {
    frames: FrameStream<Watched<BodyStream>>,
    framed: bool,
}

pub(crate) struct Session {
    inner: Arc<Inner>,
    /// What the stream is, for error messages.
    what: String,
    /// Path and query, without `last_event_id`.
    path: String,
    /// Whether the server takes `last_event_id` (the run event stream has no cursor).
    resumable: bool,
    /// Betas the endpoint needs (`parallel-beta`).
    betas: Vec<Beta>,
    /// The caller's headers, query parameters and betas for every connect.
    options: crate::RequestOptions,
    last_event_id: Option<String>,
    open: Option<Connection>,
    /// Consecutive failed attempts.
    failures: u32,
    /// Whether the latest event of the open connection was an `error` event.
    in_band_error: bool,
    /// Whether the caller took an event with a new event id from the open connection.
    moved_on_connection: bool,
    /// Whether the last connection closed made progress, and moved the cursor.
    last_connection: (bool, bool),
    /// The first event id the caller took in this session: seeing it again on a later
    /// connection means the server ignored `last_event_id` and started over.
    first_event_id: Option<String>,
    /// Whether the open connection is replaying events the caller already took.
    replaying: bool,
    /// Whether the open connection brought any such replayed event.
    replayed_on_connection: bool,
}

/// What [`Session::next_frame`] found.
pub(crate) enum Frame {
    /// One non-empty event.
    Event(Peeked),
    /// The server ended the response cleanly, between events.
    End,
}

enum Next {
    Event(Peeked),
    Skip,
    End,
    Failed(Error),
}

impl Session {
    pub(crate) fn new(inner: Arc<Inner>, what: String, path: String, resumable: bool) -> Self {
        Self {
            inner,
            what,
            path,
            resumable,
            betas: Vec::new(),
            options: crate::RequestOptions::default(),
            last_event_id: None,
            open: None,
            failures: 0,
            in_band_error: false,
            moved_on_connection: false,
            last_connection: (false, false),
            first_event_id: None,
            replaying: false,
            replayed_on_connection: false,
        }
    }

    /// Starts (or resumes) the stream after this event id.
    pub(crate) fn resume_after(mut self, last_event_id: Option<String>) -> Self {
        self.last_event_id = last_event_id.filter(|id| !id.is_empty());
        self
    }

    /// Sends these betas with every connect.
    pub(crate) fn betas(mut self, betas: Vec<Beta>) -> Self {
        self.betas = betas;
        self
    }

    /// Sends the caller's headers, query parameters and betas with every connect.
    pub(crate) fn request_options(mut self, options: crate::RequestOptions) -> Self {
        self.options = options;
        self
    }

    pub(crate) fn what(&self) -> &str {
        &self.what
    }

    pub(crate) fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// Whether the caller took, from the connection that ended last, an event that moved the
    /// cursor (a new event id).
    pub(crate) fn ended_after_moving(&self) -> bool {
        self.last_connection.1
    }

    /// The next non-empty event, reconnecting through failures.
    pub(crate) async fn next_frame(&mut self) -> Result<Frame, Error> {
        loop {
            let Some(connection) = &mut self.open else {
                self.connect().await?;
                continue;
            };
            let next = match connection.frames.next().await {
                Some(Ok(SseFrame::Event(event))) => {
                    connection.framed = true;
                    let data = event.into_data();
                    // Keep-alive frames may carry empty or blank data; they are not events.
                    if data.iter().all(u8::is_ascii_whitespace) {
                        Next::Skip
                    } else {
                        Next::Event(Peeked::read(data, &self.what)?)
                    }
                }
                Some(Ok(_comment)) => {
                    connection.framed = true;
                    Next::Skip
                }
                None if connection.frames.ended_inside_event() => Next::Failed(Error::new(
                    Kind::Connection,
                    format!("{} was cut inside an event", self.what),
                )),
                None => Next::End,
                Some(Err(StreamError::Source(e))) => Next::Failed(self.broken(e)),
                Some(Err(StreamError::Parse(e))) => {
                    self.close();
                    return Err(Error::new(
                        Kind::Limit,
                        format!(
                            "{} sent an event over the size limits; raise ClientBuilder::sse_limits",
                            self.what
                        ),
                    )
                    .with_source(e));
                }
            };
            match next {
                Next::Event(event) => {
                    self.in_band_error = event.kind() == Some("error");
                    return Ok(Frame::Event(event));
                }
                Next::Skip => {}
                Next::End => {
                    self.close();
                    return Ok(Frame::End);
                }
                Next::Failed(error) => self.interrupted(error).await?,
            }
        }
    }

    /// The error for a body that failed: silent past the idle timeout, or broken.
    fn broken(&self, e: TransportError) -> Error {
        if is_silence(&e) {
            // How long is the cause's to say.
            let text = format!(
                "{} was silent (not even a keep-alive) past the idle timeout; raise \
                 ClientBuilder::stream_idle_timeout if the server is slow",
                self.what
            );
            return Error::new(Kind::Timeout, text).with_source(e);
        }
        let kind = if e.is_timeout() {
            Kind::Timeout
        } else {
            Kind::Connection
        };
        let text = format!("{} broke off; check the network", self.what);
        Error::new(kind, text).with_source(e)
    }

    /// Whether the event with this id, on the open connection, is one the caller already
    /// took: the server ignored `last_event_id` and started the stream over (as a proxy that
    /// drops the query does). Such a connection is read, without handing anything on, up to
    /// and including the cursor's event; what follows it is new.
    pub(crate) fn is_replayed(&mut self, event_id: Option<&str>) -> bool {
        let Some(id) = event_id.filter(|id| !id.is_empty()) else {
            return self.replaying;
        };
        if self.replaying {
            if self.last_event_id.as_deref() == Some(id) {
                self.replaying = false;
            }
            self.replayed_on_connection = true;
            return true;
        }
        if self.first_event_id.as_deref() == Some(id) && self.last_event_id.as_deref() != Some(id) {
            tracing::warn!(
                what = %self.what,
                "the server started the stream over although asked to resume; skipping the \
                 events already delivered"
            );
            self.replaying = true;
            self.replayed_on_connection = true;
            return true;
        }
        false
    }

    /// Records that the caller took an event: a reconnect resumes after it.
    pub(crate) fn delivered(&mut self, event_id: Option<&str>) {
        if let Some(id) = event_id.filter(|id| !id.is_empty()) {
            if self.last_event_id.as_deref() == Some(id) {
                return;
            }
            if self.first_event_id.is_none() {
                self.first_event_id = Some(id.to_owned());
            }
            self.moved_on_connection = true;
            match &mut self.last_event_id {
                Some(last) => {
                    last.clear();
                    last.push_str(id);
                }
                None => self.last_event_id = Some(id.to_owned()),
            }
        }
    }

    /// Drops the open connection; one that made progress resets the failure count.
    fn close(&mut self) {
        if let Some(connection) = self.open.take() {
            // A connection that only repeated events already taken brought nothing.
            let replay_only = self.replayed_on_connection && !self.moved_on_connection;
            let progress = connection.framed && !self.in_band_error && !replay_only;
            if progress {
                self.failures = 0;
            }
            self.last_connection = (progress, self.moved_on_connection);
        }
        self.in_band_error = false;
        self.moved_on_connection = false;
        self.replayed_on_connection = false;
    }

    /// The connection failed or ended early: drop it and wait before the next connect, or
    /// give up with `error` when the policy's consecutive attempts are spent. Each reconnect
    /// is reported ([`Reachability::report`](crate::reconnect::Reachability::report)).
    pub(crate) async fn interrupted(&mut self, error: Error) -> Result<(), Error> {
        self.close();
        let policy = &self.inner.reconnect;
        if self.failures >= policy.attempts() {
            return Err(error.context(&format!(
                " (after {} reconnects in a row without progress; see \
                 ClientBuilder::stream_reconnect)",
                self.failures
            )));
        }
        let delay = policy.backoff(self.failures, fastrand::f64());
        self.failures += 1;
        self.inner.reachability.report(&Reconnect {
            stream: &self.what,
            address: &address(&self.inner.base_url),
            attempt: self.failures,
            max_attempts: policy.attempts(),
            delay,
            error: &error,
        });
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// The server ended a response cleanly although the stream is not finished: servers and
    /// proxies cap a connection's lifetime, so this is an ordinary reconnect from the last
    /// event id. After a connection that made progress it costs nothing from the budget and
    /// waits only a short moment; a connection that brought nothing counts as a failure.
    pub(crate) async fn reopen_after_clean_end(&mut self, error: Error) -> Result<(), Error> {
        self.close();
        if self.last_connection.0 {
            let pause = self.inner.reconnect.backoff(0, fastrand::f64()) / 4;
            tokio::time::sleep(pause).await;
            Ok(())
        } else {
            self.interrupted(error).await
        }
    }

    async fn connect(&mut self) -> Result<(), Error> {
        self.replaying = false;
        let mut path = PathBuilder::new(self.path.clone());
        if self.resumable {
            path = path.query_opt("last_event_id", self.last_event_id.as_deref());
        }
        let what = format!("opening {}", self.what);
        let mut call = Call::get(&self.inner, what, path.build()).stream();
        // Once the server has answered, the reconnect policy is the one retry loop of a
        // stream. Before, nothing says it is there at all (a wrong base URL, say): the first
        // connection is a request like any other, with the normal retries, then the error.
        let reachability = &self.inner.reachability;
        if reachability.ever_answered() {
            call.max_retries = Some(0);
        }
        call.betas.clone_from(&self.betas);
        self.options.apply_to_stream(&mut call)?;
        match self.inner.send(&call).await {
            Ok(response) => {
                let body = response.into_body().into_stream();
                let body = Watched::new(body, self.inner.stream_idle_timeout);
                let frames = EventStream::with_limits(body, self.inner.sse_limits).frames();
                self.open = Some(Connection {
                    frames,
                    framed: false,
                });
                self.in_band_error = false;
                self.moved_on_connection = false;
                Ok(())
            }
            Err(error) if error.is_transient() && reachability.ever_answered() => {
                self.interrupted(error).await
            }
            Err(error) => Err(error),
        }
    }
}
