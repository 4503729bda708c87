//! The response body: a complete buffer, or a channel fed by an event-stream task, counted
//! per endpoint as hyper takes it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::sse::BodyReceiver;
use crate::stats::{Counters, Endpoint};

/// A response body.
#[derive(Debug)]
pub(crate) enum ResponseBody {
    Full(Option<Bytes>),
    Stream(BodyReceiver),
    /// Another body whose bytes are counted for an endpoint as they are handed on.
    Counted(Box<ResponseBody>, Arc<Counters>, Endpoint),
}

impl ResponseBody {
    /// This body, its bytes counted for `endpoint`.
    pub(crate) fn counted(self, counters: Arc<Counters>, endpoint: Endpoint) -> ResponseBody {
        ResponseBody::Counted(Box::new(self), counters, endpoint)
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            ResponseBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            ResponseBody::Stream(rx) => rx
                .poll_recv(cx)
                .map(|item| item.map(|r| r.map(Frame::data))),
            ResponseBody::Counted(inner, counters, endpoint) => {
                let polled = Pin::new(inner.as_mut()).poll_frame(cx);
                if let Poll::Ready(Some(Ok(frame))) = &polled
                    && let Some(data) = frame.data_ref()
                {
                    counters.served(*endpoint, data.len());
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Full(None) => true,
            ResponseBody::Counted(inner, ..) => inner.is_end_stream(),
            _ => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(Some(d)) => SizeHint::with_exact(d.len() as u64),
            ResponseBody::Full(None) => SizeHint::with_exact(0),
            ResponseBody::Stream(_) => SizeHint::default(),
            ResponseBody::Counted(inner, ..) => inner.size_hint(),
        }
    }
}
