//! The growth rule of the buffers that lend their memory to events and lines.

use bytes::BytesMut;

/// Smallest buffer allocated for lines spanning chunks and for multi-line data. Events are
/// frozen out of these buffers as slices, so one allocation serves many events.
const MIN_BUFFER: usize = 16 * 1024;

/// Makes room for `additional` more bytes in `buf`, which lends its memory to events as
/// frozen slices. Reuses the allocation when every event cut from it is gone; otherwise starts
/// a new one of at least `MIN_BUFFER` bytes, doubling for a growing line so that a long line
/// costs amortised linear time.
pub(super) fn make_room(buf: &mut BytesMut, additional: usize) {
    if buf.capacity() - buf.len() >= additional || buf.try_reclaim(additional) {
        return;
    }
    let capacity = (buf.len() + additional).max(2 * buf.len()).max(MIN_BUFFER);
    // An eighth more, so that the next line of about the same size reuses this buffer (once
    // the events cut from it are dropped) instead of allocating again.
    let capacity = capacity + capacity / 8;
    let mut fresh = BytesMut::with_capacity(capacity);
    fresh.extend_from_slice(buf);
    *buf = fresh;
}
