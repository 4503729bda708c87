//! Replacing a file whole. The new content goes to a fresh temporary file made in the
//! target's directory (created anew, so no file or link already there is written to), is
//! synced, renamed over the target, and the directory is synced: a crash leaves the old
//! file or the new one, never a mix, and the rename replaces whatever had the target's name
//! (a link included) instead of writing through it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A temporary file made fresh beside its target; removed when dropped unless persisted.
#[derive(Debug)]
pub(crate) struct Fresh {
    file: tempfile::NamedTempFile,
}

/// The random part of a fresh file's name.
const RANDOM_CHARS: usize = 6;

impl Fresh {
    /// A new, empty file in `target`'s directory, named after it (`.NAME.XXXXXX.tmp`).
    pub(crate) fn beside(target: &Path) -> std::io::Result<Self> {
        let file = tempfile::Builder::new()
            .prefix(&prefix(target))
            .suffix(".tmp")
            .rand_bytes(RANDOM_CHARS)
            .tempfile_in(dir_of(target))?;
        Ok(Self { file })
    }

    /// Removes the fresh files of `target` a process killed before it could persist or
    /// remove them left behind. Only for a target whose writer holds a lock: another
    /// writer's file would go too.
    pub(crate) fn remove_stale(target: &Path) {
        let prefix = prefix(target);
        let Ok(entries) = std::fs::read_dir(dir_of(target)) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let stale = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".tmp"))
                .is_some_and(|random| random.len() == RANDOM_CHARS);
            // A link of that name is not one of ours: it is left alone.
            if stale && entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// The file, to write to.
    pub(crate) fn file(&self) -> &File {
        self.file.as_file()
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    /// Syncs the file, renames it over `target` and syncs the directory.
    pub(crate) fn persist(self, target: &Path) -> std::io::Result<()> {
        self.file.as_file().sync_all()?;
        self.file.persist(target).map_err(|e| e.error)?;
        sync_dir(target);
        Ok(())
    }
}

/// The start of the name of `target`'s fresh files: `.NAME.`.
fn prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    format!(".{}.", name.trim_start_matches('.'))
}

/// Replaces `target` with what `write` writes, atomically and durably.
pub(crate) fn replace(
    target: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let fresh = Fresh::beside(target)?;
    let mut writer = BufWriter::new(fresh.file());
    write(&mut writer)?;
    writer.flush()?;
    drop(writer);
    fresh.persist(target)
}

/// The directory `path` is in (`.` for a bare file name).
pub(crate) fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Makes a rename or a removal in `path`'s directory durable (best effort: some systems
/// cannot open a directory to sync it).
pub(crate) fn sync_dir(path: &Path) {
    if let Ok(dir) = File::open(dir_of(path)) {
        let _ = dir.sync_all();
    }
}

/// The file beside `path` whose name is `path`'s with `suffix` added (`out.csv` →
/// `out.csv.partial`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_leaves_the_new_file_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old").unwrap();
        replace(&target, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_failed_replace_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old").unwrap();
        let err = replace(&target, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_fresh_files_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let stale = Fresh::beside(&target)
            .unwrap()
            .file
            .into_temp_path()
            .keep()
            .unwrap();
        for other in [".out.csv.tmp", "out.csv.abcdef.tmp", ".out.csvx.abcdef.tmp"] {
            std::fs::write(dir.path().join(other), "keep").unwrap();
        }
        Fresh::remove_stale(&target);
        assert!(!stale.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[cfg(unix)]
    #[test]
    fn replace_replaces_a_link_instead_of_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, "precious").unwrap();
        let target = dir.path().join("out.csv");
        std::os::unix::fs::symlink(&elsewhere, &target).unwrap();
        replace(&target, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "precious");
        assert!(!target.symlink_metadata().unwrap().is_symlink());
    }
}
