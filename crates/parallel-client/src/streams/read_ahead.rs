//! Reading a stream ahead of its caller on a Tokio task of its own.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};

use crate::error::Error;

/// At most this many items go to the caller in one hand-over from the read-ahead task.
const READ_AHEAD_CHUNK: usize = 128;

/// Runs `inner` on a Tokio task of its own, up to `capacity` items ahead of the caller, so
/// that producing items (network reads, framing) overlaps with the caller's own work. Items
/// cross in chunks of what was ready at once, which keeps the hand-over cheap. The task
/// starts at the first poll (outside a Tokio runtime, `inner` is polled directly), stops at
/// the end of `inner` or after an error, and is aborted when the stream is dropped; a panic
/// in it is resumed in the caller.
pub(crate) fn read_ahead<T: Send + 'static>(
    inner: BoxStream<'static, Result<T, Error>>,
    capacity: usize,
) -> BoxStream<'static, Result<T, Error>> {
    enum State<T> {
        NotStarted(BoxStream<'static, Result<T, Error>>),
        Direct(BoxStream<'static, Result<T, Error>>),
        Ahead {
            chunks: TaskStream<Vec<Result<T, Error>>>,
            current: std::vec::IntoIter<Result<T, Error>>,
        },
    }

    if capacity == 0 {
        return inner;
    }
    let chunk = capacity.min(READ_AHEAD_CHUNK);
    let slots = capacity.div_ceil(chunk);
    let mut state = State::NotStarted(inner);
    Box::pin(futures::stream::poll_fn(move |cx| {
        loop {
            match &mut state {
                State::Direct(inner) => return inner.as_mut().poll_next(cx),
                State::Ahead { chunks, current } => {
                    if let Some(item) = current.next() {
                        return Poll::Ready(Some(item));
                    }
                    match chunks.poll_next_unpin(cx) {
                        Poll::Ready(Some(chunk)) => *current = chunk.into_iter(),
                        Poll::Ready(None) => return Poll::Ready(None),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                State::NotStarted(_) => {
                    let State::NotStarted(inner) = std::mem::replace(
                        &mut state,
                        State::Direct(Box::pin(futures::stream::empty())),
                    ) else {
                        unreachable!("matched above")
                    };
                    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                        state = State::Direct(inner);
                        continue;
                    };
                    let (sender, chunks) = tokio::sync::mpsc::channel(slots);
                    let task = runtime.spawn(async move {
                        let mut ready = inner.ready_chunks(chunk);
                        while let Some(mut chunk) = ready.next().await {
                            let error = chunk.iter().position(Result::is_err);
                            if let Some(at) = error {
                                chunk.truncate(at + 1);
                            }
                            if sender.send(chunk).await.is_err() || error.is_some() {
                                break;
                            }
                        }
                    });
                    state = State::Ahead {
                        chunks: TaskStream::new(chunks, task),
                        current: Vec::new().into_iter(),
                    };
                }
            }
        }
    }))
}

/// What a spawned task sends over a channel, as a stream. It ends when the task has ended
/// (and answers `None` when polled again); a panic in the task is resumed in the caller, as it
/// would have been had the caller done the work itself, instead of looking like the end and
/// losing what the task had not sent; dropping the stream aborts the task.
pub(crate) struct TaskStream<I> {
    items: tokio::sync::mpsc::Receiver<I>,
    task: tokio::task::JoinHandle<()>,
    ended: bool,
}

impl<I> TaskStream<I> {
    /// The stream of `items`, which `task` sends.
    pub(crate) fn new(
        items: tokio::sync::mpsc::Receiver<I>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            items,
            task,
            ended: false,
        }
    }
}

impl<I> Stream for TaskStream<I> {
    type Item = I;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<I>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match this.items.poll_recv(cx) {
            // The channel closed: wait for the task's end (a finished task must not be
            // polled twice, hence `ended`).
            Poll::Ready(None) => match Pin::new(&mut this.task).poll(cx) {
                Poll::Ready(Err(error)) if error.is_panic() => {
                    std::panic::resume_unwind(error.into_panic())
                }
                Poll::Ready(_) => {
                    this.ended = true;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

impl<I> Drop for TaskStream<I> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures::FutureExt;

    use super::*;
    use crate::error::Kind;

    fn numbers(n: u32) -> BoxStream<'static, Result<u32, Error>> {
        futures::stream::iter((0..n).map(Ok)).boxed()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_ahead_keeps_every_item_in_order_whatever_the_capacity() {
        for capacity in [0, 1, 2, 127, 128, 129, 1000, 5000] {
            let mut stream = read_ahead(numbers(3000), capacity);
            let items: Vec<u32> = stream.by_ref().map(Result::unwrap).collect().await;
            assert_eq!(items, (0..3000).collect::<Vec<_>>(), "capacity {capacity}");
            assert!(
                stream.next().await.is_none(),
                "still ended when polled again"
            );
        }
    }

    #[tokio::test]
    async fn read_ahead_ends_after_an_error() {
        let inner =
            futures::stream::iter([Ok(1), Err(Error::new(Kind::Connection, "cut")), Ok(3)]).boxed();
        let items: Vec<Result<u32, Error>> = read_ahead(inner, 16).collect().await;
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(items[0].as_ref().unwrap(), &1);
        assert!(items[1].as_ref().unwrap_err().is_connection());
    }

    /// Sets its flag when dropped.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_read_ahead_task() {
        // One item, then a stream that never ends (a connection waiting for data): only
        // aborting the task drops it.
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = DropFlag(Arc::clone(&dropped));
        let inner = futures::stream::once(async { Ok(7) })
            .chain(futures::stream::pending())
            .map(move |item| {
                let _owned_by_the_stream = &flag;
                item
            })
            .boxed();
        let mut stream = read_ahead(inner, 16);
        assert_eq!(stream.next().await.unwrap().unwrap(), 7);
        assert!(!dropped.load(Ordering::SeqCst), "the task still runs");
        drop(stream);
        for _ in 0..100 {
            if dropped.load(Ordering::SeqCst) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the read-ahead task still holds the inner stream");
    }

    #[tokio::test]
    async fn a_panic_in_the_read_ahead_task_reaches_the_caller() {
        // Without it the stream would simply end, and the runs after the panic be lost
        // without a word.
        let inner = futures::stream::iter([1, 2])
            .map(|n| {
                if n == 2 {
                    panic!("decoding run {n}")
                } else {
                    Ok(n)
                }
            })
            .boxed();
        let mut stream = read_ahead(inner, 16);
        let caught = std::panic::AssertUnwindSafe(async {
            while let Some(item) = stream.next().await {
                item.unwrap();
            }
        })
        .catch_unwind()
        .await;
        let panic = caught.expect_err("the panic is resumed");
        assert_eq!(
            panic.downcast_ref::<String>().map(String::as_str),
            Some("decoding run 2")
        );
    }

    #[test]
    fn outside_a_runtime_the_stream_is_read_directly() {
        let mut stream = read_ahead(numbers(3), 16);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for expected in 0..3 {
            match stream.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(Ok(item))) => assert_eq!(item, expected),
                other => panic!("expected item {expected}, got {other:?}"),
            }
        }
        assert!(matches!(
            stream.as_mut().poll_next(&mut cx),
            Poll::Ready(None)
        ));
    }
}
