//! Writing event streams: frames are appended to a buffer and handed to the response body in
//! batches, with the stream faults (cuts and dripping) applied on the way.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::config::Drip;
use crate::outage::Outages;
use crate::rng::DetRng;
use crate::slot::Slot;
use crate::wire;

/// Flush once this much is buffered, so a large snapshot streams in pieces of about this size.
const FLUSH_BYTES: usize = 32 * 1024;

/// The receiving end lives in the response body.
pub(crate) type BodyReceiver = mpsc::Receiver<Result<Bytes, io::Error>>;

/// The stream cannot go on: the client left, the stream was cut on purpose, or it is over.
#[derive(Debug)]
pub(crate) struct Stop;

/// Fault settings for one stream.
#[derive(Debug, Clone)]
pub(crate) struct StreamFaults {
    pub(crate) cut_after: Option<u32>,
    pub(crate) cut_offset: Option<usize>,
    pub(crate) drip: Option<Drip>,
    /// Seeds the cut offset when none is fixed (and the `error` event's `ref_id`).
    pub(crate) rng: DetRng,
    /// End the stream cleanly, between events, at this moment.
    pub(crate) close_at: Option<tokio::time::Instant>,
    /// Write an `error` event after this many counted events, then end cleanly.
    pub(crate) error_after: Option<u32>,
    /// The message of that `error` event.
    pub(crate) error_message: &'static str,
}

/// What happens to a stream on purpose, for the handle's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incident {
    /// Cut mid-event (`sse_cut_after_events`).
    Cut,
    /// Ended cleanly by `close_streams_after`.
    Closed,
    /// An `error` event was written (`error_event_after`).
    ErrorEvent,
}

/// The writing end of one event stream.
pub(crate) struct SseSink {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
    counted: u32,
    faults: StreamFaults,
    cut_pending: bool,
    /// The `error` event is buffered: end cleanly after sending it.
    end_pending: bool,
    /// Called when something happens to the stream on purpose (for the handle's counters).
    on_incident: Box<dyn Fn(Incident) + Send + Sync>,
    /// A hang outage silences the stream.
    outages: Arc<Outages>,
    /// The stream's place under `max_event_streams`, given back when the stream ends.
    slot: Option<Slot>,
}

impl SseSink {
    pub(crate) fn new(
        faults: StreamFaults,
        outages: Arc<Outages>,
        on_incident: Box<dyn Fn(Incident) + Send + Sync>,
    ) -> (SseSink, BodyReceiver) {
        let (tx, rx) = mpsc::channel(4);
        (
            SseSink {
                tx,
                buf: Vec::with_capacity(FLUSH_BYTES + 4096),
                counted: 0,
                faults,
                cut_pending: false,
                end_pending: false,
                on_incident,
                outages,
                slot: None,
            },
            rx,
        )
    }

    /// Holds `slot` (a place among the open streams) until the stream ends.
    pub(crate) fn holding(mut self, slot: Slot) -> SseSink {
        self.slot = Some(slot);
        self
    }

    /// Appends one event frame whose JSON `write` produces. `counted` events count towards
    /// the cut fault. Returns true when the caller should [`flush`](Self::flush) now.
    pub(crate) fn event(
        &mut self,
        event_type: &str,
        counted: bool,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> bool {
        if self.cut_pending || self.end_pending {
            return true;
        }
        if counted && self.faults.error_after == Some(self.counted) {
            self.write_error_event();
            return true;
        }
        let start = self.buf.len();
        wire::begin_frame(&mut self.buf, event_type);
        write(&mut self.buf);
        wire::end_frame(&mut self.buf);
        if counted {
            if self.faults.cut_after == Some(self.counted) {
                let len = self.buf.len() - start;
                // Strictly inside the frame: at least one byte of it is sent, at least one is not.
                let offset = match self.faults.cut_offset {
                    Some(o) => o.clamp(1, len - 1),
                    None => 1 + self.faults.rng.index(len - 1),
                };
                self.buf.truncate(start + offset);
                self.cut_pending = true;
                return true;
            }
            self.counted += 1;
        }
        // A stream that is to be closed on time sends each event as it is written, so the
        // close lands between events as the client sees them.
        self.faults.close_at.is_some() || self.buf.len() >= FLUSH_BYTES
    }

    fn write_error_event(&mut self) {
        let ref_id = self.faults.rng.uuid();
        wire::begin_frame(&mut self.buf, "error");
        self.buf
            .extend_from_slice(b"{\"type\":\"error\",\"error\":");
        wire::write_error_object(&mut self.buf, &ref_id, self.faults.error_message, None);
        self.buf.push(b'}');
        wire::end_frame(&mut self.buf);
        self.end_pending = true;
    }

    /// Completes when the stream is due to close (`close_streams_after`); never without it.
    pub(crate) async fn close_time(&self) {
        match self.faults.close_at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }

    /// Whether the stream has been open for its `close_streams_after`: the caller ends it
    /// cleanly now, between two events. Counts the close.
    pub(crate) fn expired(&self) -> bool {
        let due = self
            .faults
            .close_at
            .is_some_and(|at| tokio::time::Instant::now() >= at);
        if due {
            (self.on_incident)(Incident::Closed);
        }
        due
    }

    /// Counts the close and ends the stream cleanly when it is due (the timer fired).
    pub(crate) async fn flush_if_expired(&mut self) -> Result<(), Stop> {
        self.expired();
        self.flush().await
    }

    /// Sends a keep-alive comment at once.
    pub(crate) async fn keep_alive(&mut self) -> Result<(), Stop> {
        self.buf.extend_from_slice(wire::KEEP_ALIVE);
        self.flush().await
    }

    /// Sends what is buffered. After a cut, sends the partial frame and then breaks the
    /// connection, and reports [`Stop`].
    pub(crate) async fn flush(&mut self) -> Result<(), Stop> {
        if !self.buf.is_empty() {
            let data = Bytes::from(std::mem::replace(
                &mut self.buf,
                Vec::with_capacity(FLUSH_BYTES + 4096),
            ));
            self.send(data).await?;
        }
        if self.end_pending {
            (self.on_incident)(Incident::ErrorEvent);
            // Dropping the sink after this ends the body cleanly.
            return Err(Stop);
        }
        if self.cut_pending {
            (self.on_incident)(Incident::Cut);
            // hyper drops whatever it has buffered when the body fails, so first let it take
            // and flush the partial event; then the error ends the body abnormally and hyper
            // closes the connection without the terminating chunk, which is what a network
            // cut looks like to the client.
            for _ in 0..200 {
                if self.tx.capacity() == self.tx.max_capacity() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = self
                .tx
                .send(Err(io::Error::other(
                    "event stream cut on purpose (fault injection)",
                )))
                .await;
            return Err(Stop);
        }
        Ok(())
    }

    async fn send(&mut self, data: Bytes) -> Result<(), Stop> {
        if self.outages.hanging() {
            // Completely silent while the server hangs; the client may leave meanwhile.
            tokio::select! {
                () = self.outages.hang_over() => {}
                () = self.tx.closed() => return Err(Stop),
            }
        }
        match self.faults.drip {
            Some(Drip { chunk_bytes, pause }) => {
                let mut rest = data;
                while !rest.is_empty() {
                    let piece = rest.split_to(chunk_bytes.min(rest.len()));
                    self.tx.send(Ok(piece)).await.map_err(|_| Stop)?;
                    if !rest.is_empty() && pause > Duration::ZERO {
                        tokio::time::sleep(pause).await;
                    }
                }
                Ok(())
            }
            None => self.tx.send(Ok(data)).await.map_err(|_| Stop),
        }
    }

    /// Whether the client has gone away.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Completes when the client goes away.
    pub(crate) async fn closed(&self) {
        self.tx.closed().await;
    }
}
