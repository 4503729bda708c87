//! One `run` per output at a time: an exclusive lock on the job's `lock` file, with the
//! holder's process id inside so that a second run can say who has it. The holder removes
//! the file when it lets go, whatever the exit but a kill: a lock left by a killed process
//! is held by no one, and the next run takes it over.
//!
//! Removing a lock file races with a run that opened it just before: that run may then
//! lock a file no longer in the directory, while a third run makes and locks a new one. So
//! a run that gets a lock checks that the file it locked is still the one at the lock's
//! path, and opens the file again if not.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{Companion, no_follow};
use crate::error::Error;

/// How often a run tries again when the lock file was replaced under it.
const ATTEMPTS: usize = 16;

/// An exclusive lock on the job writing an output; released and removed when dropped
/// (released when the process dies).
#[derive(Debug)]
pub(crate) struct OutputLock {
    file: File,
    path: PathBuf,
    files: Companion,
}

impl OutputLock {
    /// Takes the lock of the job writing `files.output()` (making the job's directory if
    /// need be), or says which process holds it.
    pub(crate) fn acquire(files: &Companion) -> Result<Self, Error> {
        let path = files.lock();
        let io = |e| Error::io(format!("cannot lock {}", path.display()), e);
        for _ in 0..ATTEMPTS {
            files.make_dir()?;
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            let mut file = match no_follow::open(&path, &mut options) {
                Ok(file) => file,
                // The directory was removed by a run letting go: make it again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            if !try_lock(&file, true).map_err(io)? {
                return Err(held(files, &path, &mut file));
            }
            if !is_at(&file, &path) {
                continue;
            }
            file.set_len(0).map_err(io)?;
            writeln!(file, "{}", std::process::id()).map_err(io)?;
            return Ok(Self {
                file,
                path,
                files: files.clone(),
            });
        }
        Err(io(std::io::Error::other(
            "the lock file kept changing; is another run starting and stopping on this output?",
        )))
    }

    /// Whether some process holds the lock at `path` now.
    pub(crate) fn is_held(path: &Path) -> bool {
        let Ok(file) = no_follow::open_to_read(path) else {
            return false;
        };
        // Taking it shared, then dropping the file, releases it again at once.
        !matches!(try_lock(&file, false), Ok(true))
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still locked, and only if it is still this lock's file.
        if is_at(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
        self.files.remove_if_empty();
    }
}

/// The refusal of a lock another process holds, naming it.
fn held(files: &Companion, path: &Path, file: &mut File) -> Error {
    let mut holder = String::new();
    let _ = file.read_to_string(&mut holder);
    let holder = holder.trim();
    let who = if holder.is_empty() {
        "another process".to_owned()
    } else {
        format!("process {holder}")
    };
    Error::state(format!(
        "{} is being written by another parallel-batch run ({who} holds {}); wait for it to \
         finish or stop it, or write to another output file",
        files.output().display(),
        path.display()
    ))
}

/// Whether `file` is the file at `path` now.
#[cfg(unix)]
fn is_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), path.symlink_metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_at(_file: &File, path: &Path) -> bool {
    path.exists()
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_exclusive_and_gone_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let files = Companion::of(&dir.path().join("out.csv"));
        let lock = OutputLock::acquire(&files).unwrap();
        assert!(OutputLock::is_held(&files.lock()));
        let err = OutputLock::acquire(&files).unwrap_err();
        let pid = std::process::id().to_string();
        assert!(
            err.to_string().contains(&format!("process {pid} holds")),
            "{err}"
        );
        drop(lock);
        assert!(
            !files.lock().exists() && !files.dir().exists(),
            "nothing left"
        );
        // A lock left by a killed process (a file no one holds) is taken over.
        files.make_dir().unwrap();
        std::fs::write(files.lock(), "99999\n").unwrap();
        let lock = OutputLock::acquire(&files).unwrap();
        assert_eq!(
            std::fs::read_to_string(files.lock()).unwrap(),
            format!("{pid}\n")
        );
        // The directory stays while the job has files in it.
        std::fs::write(files.state(), "{}").unwrap();
        drop(lock);
        assert!(!files.lock().exists() && files.state().exists());
    }
}
