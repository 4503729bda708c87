//! [`FaultTransport`]: reproducible damage to what another transport returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::error::Message;
use crate::{Body, Transport, TransportError};

type RequestFilter = Arc<dyn Fn(&http::Request<Bytes>) -> bool + Send + Sync>;

/// How response bodies are re-chunked.
#[derive(Clone, Debug)]
enum Split {
    /// Frames pass through as the inner transport produced them.
    None,
    /// Pieces of the given sizes, cycled.
    Sizes(Arc<[usize]>),
    /// Pieces of a random size in `1..=max`.
    Random { max: usize },
}

/// Wraps a transport and damages its responses, reproducibly from a seed.
///
/// Every fault is off until switched on. Faults apply to every request, or only to those
/// selected by [`only_if`](Self::only_if), and only to the first [`times`](Self::times) of them.
/// For different faults on different requests, wrap one `FaultTransport` in another.
///
/// The random choices for the *n*-th faulted request depend only on the seed and *n*, so a
/// failing test replays exactly with the same seed.
///
/// ```
/// use std::time::Duration;
/// use parallel_transport::test_util::{FaultTransport, ReplayTransport};
///
/// let transport = FaultTransport::new(ReplayTransport::new())
///     .seed(7)
///     .split_randomly(3)        // body pieces of 1 to 3 bytes
///     .cut_body_after(100)      // then the connection "drops"
///     .delay_chunks(Duration::from_millis(1));
/// # let _ = transport;
/// ```
pub struct FaultTransport<T> {
    inner: T,
    split: Split,
    cut_after: Option<u64>,
    response_delay: Option<Duration>,
    chunk_delay: Option<Duration>,
    lose_response: bool,
    fail_before_sending: bool,
    filter: Option<RequestFilter>,
    times: Option<usize>,
    state: Mutex<FaultState>,
}

struct FaultState {
    rng: fastrand::Rng,
    faulted: usize,
}

impl<T: Transport> FaultTransport<T> {
    /// Wraps `inner` with no fault switched on, and seed 0.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            split: Split::None,
            cut_after: None,
            response_delay: None,
            chunk_delay: None,
            lose_response: false,
            fail_before_sending: false,
            filter: None,
            times: None,
            state: Mutex::new(FaultState {
                rng: fastrand::Rng::with_seed(0),
                faulted: 0,
            }),
        }
    }

    /// Seeds the random choices (random split sizes).
    #[must_use]
    pub fn seed(self, seed: u64) -> Self {
        self.lock().rng = fastrand::Rng::with_seed(seed);
        self
    }

    /// Delivers response bodies in pieces of `size` bytes (at least 1).
    #[must_use]
    pub fn split_every(self, size: usize) -> Self {
        self.split_at_sizes(vec![size])
    }

    /// Delivers response bodies in pieces of these sizes, cycled (each at least 1; an empty list
    /// switches splitting off).
    #[must_use]
    pub fn split_at_sizes(mut self, sizes: Vec<usize>) -> Self {
        self.split = if sizes.is_empty() {
            Split::None
        } else {
            Split::Sizes(sizes.into_iter().map(|s| s.max(1)).collect())
        };
        self
    }

    /// Delivers response bodies in pieces of random sizes from 1 to `max` bytes.
    #[must_use]
    pub fn split_randomly(mut self, max: usize) -> Self {
        self.split = Split::Random { max: max.max(1) };
        self
    }

    /// After `bytes` bytes of a response body, the body fails with an error for which
    /// [`is_body`](TransportError::is_body) is true, as a dropped connection would. A body of
    /// exactly `bytes` bytes fails at its end instead of ending; a shorter one is left alone.
    #[must_use]
    pub fn cut_body_after(mut self, bytes: u64) -> Self {
        self.cut_after = Some(bytes);
        self
    }

    /// Waits this long before sending each request on.
    #[must_use]
    pub fn delay_response(mut self, delay: Duration) -> Self {
        self.response_delay = Some(delay);
        self
    }

    /// Waits this long before each piece of a response body.
    #[must_use]
    pub fn delay_chunks(mut self, delay: Duration) -> Self {
        self.chunk_delay = Some(delay);
        self
    }

    /// Sends the request on, lets the inner transport complete it (so the server processes it),
    /// then drops the response and fails with an error that is *not*
    /// [`is_request_not_sent`](TransportError::is_request_not_sent): the outcome is unknown to
    /// the caller, as when a connection drops just before the response arrives.
    #[must_use]
    pub fn lose_response(mut self) -> Self {
        self.lose_response = true;
        self
    }

    /// Fails without sending the request on, with a connect error (so
    /// [`is_request_not_sent`](TransportError::is_request_not_sent) is true), as when the server
    /// is unreachable.
    #[must_use]
    pub fn fail_before_sending(mut self) -> Self {
        self.fail_before_sending = true;
        self
    }

    /// Applies the faults only to the requests for which `filter` returns true; others pass
    /// through untouched.
    #[must_use]
    pub fn only_if(
        mut self,
        filter: impl Fn(&http::Request<Bytes>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.filter = Some(Arc::new(filter));
        self
    }

    /// Applies the faults to the first `count` selected requests only.
    #[must_use]
    pub fn times(mut self, count: usize) -> Self {
        self.times = Some(count);
        self
    }

    /// How many requests the faults were applied to so far.
    pub fn faulted(&self) -> usize {
        self.lock().faulted
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides whether this request is faulted; if so, returns the seed of its own random source.
    fn select(&self, request: &http::Request<Bytes>) -> Option<u64> {
        if self.filter.as_ref().is_some_and(|filter| !filter(request)) {
            return None;
        }
        let mut state = self.lock();
        if self.times.is_some_and(|times| state.faulted >= times) {
            return None;
        }
        state.faulted += 1;
        Some(state.rng.u64(..))
    }

    async fn send_faulted(
        &self,
        request: http::Request<Bytes>,
        seed: u64,
    ) -> Result<http::Response<Body>, TransportError> {
        if self.fail_before_sending {
            return Err(TransportError::connect(Message(
                "the connection failed before the request was sent (injected fault)".to_owned(),
            )));
        }
        if let Some(delay) = self.response_delay {
            tokio::time::sleep(delay).await;
        }
        let response = self.inner.send(request).await?;
        if self.lose_response {
            drop(response);
            return Err(TransportError::request(Message(
                "the connection dropped after the request was sent; the server may have \
                 processed it (injected fault)"
                    .to_owned(),
            )));
        }
        let damaged = matches!(self.split, Split::None)
            && self.cut_after.is_none()
            && self.chunk_delay.is_none();
        if damaged {
            return Ok(response);
        }
        let split = self.split.clone();
        let cut_after = self.cut_after;
        let chunk_delay = self.chunk_delay;
        Ok(response.map(|body| {
            Body::new(FaultBody {
                inner: body,
                pending: Bytes::new(),
                split,
                next_size: 0,
                rng: fastrand::Rng::with_seed(seed),
                cut_after,
                delivered: 0,
                chunk_delay,
                sleep: None,
                delayed: false,
                finished: false,
            })
        }))
    }
}

impl<T: Transport> Transport for FaultTransport<T> {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Body>, TransportError> {
        match self.select(&request) {
            None => self.inner.send(request).await,
            Some(seed) => self.send_faulted(request, seed).await,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for FaultTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultTransport")
            .field("inner", &self.inner)
            .field("split", &self.split)
            .field("cut_after", &self.cut_after)
            .field("response_delay", &self.response_delay)
            .field("chunk_delay", &self.chunk_delay)
            .field("lose_response", &self.lose_response)
            .field("fail_before_sending", &self.fail_before_sending)
            .field("filtered", &self.filter.is_some())
            .field("times", &self.times)
            .finish_non_exhaustive()
    }
}

/// A response body re-chunked, delayed and possibly cut.
struct FaultBody {
    inner: Body,
    /// Data received from `inner` and not handed out yet.
    pending: Bytes,
    split: Split,
    /// Position in `Split::Sizes`.
    next_size: usize,
    rng: fastrand::Rng,
    cut_after: Option<u64>,
    delivered: u64,
    chunk_delay: Option<Duration>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether the delay before the next piece has passed.
    delayed: bool,
    finished: bool,
}

impl FaultBody {
    fn piece_size(&mut self) -> usize {
        match &self.split {
            Split::None => usize::MAX,
            Split::Sizes(sizes) => {
                let size = sizes[self.next_size % sizes.len()];
                self.next_size = self.next_size.wrapping_add(1);
                size
            }
            Split::Random { max } => self.rng.usize(1..=*max),
        }
    }

    fn cut(&mut self) -> Poll<Option<Result<Frame<Bytes>, TransportError>>> {
        self.finished = true;
        Poll::Ready(Some(Err(TransportError::body(Message(format!(
            "the connection dropped after {} bytes of the response body (injected fault)",
            self.delivered
        ))))))
    }
}

impl http_body::Body for FaultBody {
    type Data = Bytes;
    type Error = TransportError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, TransportError>>> {
        let this = self.get_mut();
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            let left_before_cut = this.cut_after.map(|cut| cut.saturating_sub(this.delivered));
            if left_before_cut == Some(0) {
                return this.cut();
            }
            if !this.pending.is_empty() {
                if let (Some(delay), false) = (this.chunk_delay, this.delayed) {
                    let sleep = this
                        .sleep
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
                    ready!(sleep.as_mut().poll(cx));
                    this.sleep = None;
                    this.delayed = true;
                }
                let mut size = this.piece_size().min(this.pending.len());
                if let Some(left) = left_before_cut {
                    size = size.min(usize::try_from(left).unwrap_or(usize::MAX));
                }
                let piece = this.pending.split_to(size);
                this.delivered += piece.len() as u64;
                this.delayed = false;
                return Poll::Ready(Some(Ok(Frame::data(piece))));
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                None => {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                Some(Err(error)) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(error)));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.pending = data,
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished
    }

    fn size_hint(&self) -> SizeHint {
        // The length is unknown once a cut may shorten the body.
        if self.cut_after.is_some() {
            return SizeHint::default();
        }
        let mut hint = http_body::Body::size_hint(&self.inner);
        let pending = self.pending.len() as u64;
        hint.set_lower(hint.lower().saturating_add(pending));
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper.saturating_add(pending));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::test_util::{Exchange, FnTransport, ReplayTransport};

    const TEXT: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

    fn source() -> impl Transport {
        FnTransport::new(|_request| async {
            // Two frames from the server, to check that splitting crosses frame boundaries.
            let frames = futures::stream::iter([
                Ok::<_, std::io::Error>(Bytes::from_static(&TEXT[..20])),
                Ok(Bytes::from_static(&TEXT[20..])),
            ]);
            Ok(http::Response::new(Body::from_stream(frames)))
        })
    }

    fn get() -> http::Request<Bytes> {
        http::Request::get("http://127.0.0.1/x")
            .body(Bytes::new())
            .expect("valid")
    }

    async fn pieces<T: Transport>(transport: &T) -> Vec<Result<Bytes, TransportError>> {
        let response = transport.send(get()).await.expect("response");
        response.into_body().into_stream().collect().await
    }

    fn sizes(pieces: &[Result<Bytes, TransportError>]) -> Vec<usize> {
        pieces
            .iter()
            .map(|p| p.as_ref().map_or(0, Bytes::len))
            .collect()
    }

    fn joined(pieces: &[Result<Bytes, TransportError>]) -> Vec<u8> {
        pieces
            .iter()
            .flatten()
            .flat_map(|b| b.iter().copied())
            .collect()
    }

    #[tokio::test]
    async fn untouched_without_faults() {
        let got = pieces(&FaultTransport::new(source())).await;
        assert_eq!(sizes(&got), [20, 16]);
    }

    #[tokio::test]
    async fn splits_at_fixed_sizes_down_to_one_byte() {
        let got = pieces(&FaultTransport::new(source()).split_every(1)).await;
        assert_eq!(got.len(), TEXT.len());
        assert!(sizes(&got).iter().all(|&s| s == 1));
        assert_eq!(joined(&got), TEXT);

        let got = pieces(&FaultTransport::new(source()).split_at_sizes(vec![3, 7])).await;
        // 20 = 3+7+3+7, then the second frame: 16 = 3+7+3+3 (cut short by the frame's end).
        assert_eq!(sizes(&got), [3, 7, 3, 7, 3, 7, 3, 3]);
        assert_eq!(joined(&got), TEXT);
    }

    #[tokio::test]
    async fn random_splits_are_reproducible_from_the_seed() {
        let a = sizes(&pieces(&FaultTransport::new(source()).seed(42).split_randomly(4)).await);
        let b = sizes(&pieces(&FaultTransport::new(source()).seed(42).split_randomly(4)).await);
        assert_eq!(a, b, "same seed, same pieces");
        assert!(a.iter().all(|&s| (1..=4).contains(&s)), "{a:?}");
        assert_eq!(a.iter().sum::<usize>(), TEXT.len());
        let mut seeds_differ = false;
        for seed in 0..8u64 {
            let transport = FaultTransport::new(source()).seed(seed).split_randomly(4);
            seeds_differ |= sizes(&pieces(&transport).await) != a;
        }
        assert!(seeds_differ, "other seeds give other splits");
    }

    #[tokio::test]
    async fn cuts_the_body_after_n_bytes() {
        let got = pieces(
            &FaultTransport::new(source())
                .split_every(8)
                .cut_body_after(10),
        )
        .await;
        assert_eq!(sizes(&got[..2]), [8, 2]);
        assert_eq!(got.len(), 3);
        let error = got[2].as_ref().expect_err("cut");
        assert!(error.is_body() && !error.is_request_not_sent(), "{error:?}");
        assert_eq!(joined(&got), &TEXT[..10]);

        // A body of exactly the cut length is delivered, then fails instead of ending.
        let got = pieces(&FaultTransport::new(source()).cut_body_after(TEXT.len() as u64)).await;
        assert_eq!(joined(&got), TEXT);
        assert!(got.last().is_some_and(Result::is_err), "ends with the cut");

        // A body shorter than the cut point is delivered whole.
        let got = pieces(&FaultTransport::new(source()).cut_body_after(1000)).await;
        assert_eq!(joined(&got), TEXT);
        assert!(got.iter().all(Result::is_ok));
    }

    #[tokio::test]
    async fn loses_the_response_after_the_inner_transport_answered() {
        let replay = ReplayTransport::new().expect(Exchange::post("/runs").respond(200, "ok"));
        let transport = FaultTransport::new(replay.clone()).lose_response();
        let request = http::Request::post("http://127.0.0.1/runs")
            .body(Bytes::new())
            .expect("valid");
        let error = transport.send(request).await.expect_err("lost");
        assert!(
            !error.is_request_not_sent() && !error.is_connect(),
            "{error:?}"
        );
        assert_eq!(
            replay.received().len(),
            1,
            "the request did reach the inner transport"
        );
        replay.assert_done();
    }

    #[tokio::test]
    async fn fails_before_sending_only_for_selected_requests_and_times() {
        let replay = ReplayTransport::new()
            .expect(Exchange::get("/x").respond(200, "first"))
            .expect(Exchange::post("/runs").respond(200, "second"));
        let transport = FaultTransport::new(replay.clone())
            .fail_before_sending()
            .only_if(|request| request.method() == http::Method::POST)
            .times(1);
        let post = || {
            http::Request::post("http://127.0.0.1/runs")
                .body(Bytes::new())
                .expect("valid")
        };
        assert!(transport.send(get()).await.is_ok(), "GET is not selected");
        let error = transport.send(post()).await.expect_err("first POST fails");
        assert!(
            error.is_connect() && error.is_request_not_sent(),
            "{error:?}"
        );
        let response = transport.send(post()).await.expect("second POST passes");
        assert_eq!(
            response.into_body().collect().await.expect("body"),
            "second"
        );
        assert_eq!(transport.faulted(), 1);
        replay.assert_done();
    }

    #[tokio::test(start_paused = true)]
    async fn delays_pieces() {
        let transport = FaultTransport::new(source())
            .split_every(18)
            .delay_chunks(Duration::from_secs(5))
            .delay_response(Duration::from_secs(1));
        let started = tokio::time::Instant::now();
        let got = pieces(&transport).await;
        assert_eq!(sizes(&got), [18, 2, 16]);
        // With the clock paused, time only moves by the injected delays: 1 s, then 5 s per piece.
        assert_eq!(started.elapsed(), Duration::from_secs(16));
    }
}
