//! Following the batch: the engine's items go to the sink, with checkpoints along the way,
//! until the batch ends, fails, or a signal stops it.

use std::time::Duration;

use futures::StreamExt;
use parallel_client::batch::{BatchItem, BatchStream};
use tokio::sync::oneshot;

use super::signals::{Signals, Stop};
use super::sink::Sink;
use super::waiting::Waiting;
use crate::error::Error;
use crate::progress::Progress;

/// How often the output is made durable and the state saved.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// How the item loop ended.
pub(crate) enum Ending {
    Done,
    /// Stopped by a signal.
    Stopped(Stop),
    Failed(Error),
}

/// Hands the engine's items to the sink until the batch ends, fails or is interrupted;
/// checkpoints along the way.
pub(crate) async fn follow(
    mut items: BatchStream,
    mut feed_error: oneshot::Receiver<Error>,
    sink: &mut Sink,
    progress: &mut Progress,
    mut waiting: Waiting,
    signals: &mut Signals,
) -> Result<Ending, Error> {
    let mut checkpoint = tokio::time::interval(CHECKPOINT_EVERY);
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The feed's sender goes away without a word when the input was read to its end.
    let mut feeding = true;
    loop {
        tokio::select! {
            biased;
            stop = signals.recv() => return Ok(Ending::Stopped(stop)),
            read = &mut feed_error, if feeding => match read {
                Ok(error) => return Ok(Ending::Failed(error)),
                Err(_) => feeding = false,
            },
            item = items.next() => match item {
                None => return Ok(Ending::Done),
                Some(Err(error)) => {
                    let what = if error.is_insufficient_credit() {
                        "the account is out of credit"
                    } else {
                        "the batch stopped"
                    };
                    return Ok(Ending::Failed(Error::api(what, error)));
                }
                Some(Ok(item)) => {
                    waiting.heard();
                    if let BatchItem::Progress(snapshot) = &item {
                        progress.set_throttled(snapshot.throttled);
                    }
                    take(item, sink)?;
                }
            },
            _ = checkpoint.tick() => {
                sink.checkpoint(false)?;
                waiting.check(progress);
                progress.note_throttling();
            }
        }
        progress.update(sink.submitted.len(), &sink.counts);
    }
}

/// One item of the engine.
fn take(item: BatchItem, sink: &mut Sink) -> Result<(), Error> {
    match item {
        BatchItem::Result(result) => sink.result(&result),
        BatchItem::Rejected(rejection) => sink.rejected(&rejection),
        BatchItem::Submitted { runs, .. } => {
            sink.submitted(runs.iter().map(|(row, _)| *row));
            Ok(())
        }
        // Progress snapshots come about twice a second: a good moment to let the file grow.
        BatchItem::Progress(_) => sink.flush(),
        _ => Ok(()),
    }
}
