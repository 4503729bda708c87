//! One `run` per output at a time: an exclusive lock on `<OUTPUT>.lock`, held until the
//! process ends, with the holder's process id inside so a second run can say who has it.
//!
//! The lock file is left in place after the run: deleting it would let a third process lock
//! a new file while a second still waits on the old one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};

use super::Companion;
use crate::error::Error;

/// An exclusive lock on an output; released when dropped (or when the process dies).
#[derive(Debug)]
pub(crate) struct OutputLock {
    _file: File,
}

impl OutputLock {
    /// Takes the lock of the job writing `files.output()`, or says which process holds it.
    pub(crate) fn acquire(files: &Companion) -> Result<Self, Error> {
        let (path, output) = (files.lock(), files.output());
        let io = |e| Error::io(format!("cannot lock {}", path.display()), e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match try_lock(&file, true) {
            Ok(true) => {}
            Ok(false) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_owned()
                } else {
                    format!("process {holder}")
                };
                return Err(Error::state(format!(
                    "{} is being written by another parallel-batch run ({who} holds {}); wait \
                     for it to finish or stop it, or write to another output file",
                    output.display(),
                    path.display()
                )));
            }
            Err(e) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file })
    }

    /// Whether some process holds the lock of the job writing `files.output()` now.
    pub(crate) fn is_held(files: &Companion) -> bool {
        let Ok(file) = File::open(files.lock()) else {
            return false;
        };
        // Taking it shared, then dropping the file, releases it again at once.
        !matches!(try_lock(&file, false), Ok(true))
    }
}

/// Takes an advisory lock without waiting: whether it was free.
#[cfg(unix)]
fn try_lock(file: &File, exclusive: bool) -> std::io::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    let operation = if exclusive {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    match flock(file, operation) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Without flock(2) there is no lock: every run proceeds (only Unix is supported for now).
#[cfg(not(unix))]
fn try_lock(_file: &File, _exclusive: bool) -> std::io::Result<bool> {
    Ok(true)
}
