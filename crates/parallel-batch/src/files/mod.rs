//! The files the tool reads and writes: a file's stamp (length and hash), files replaced
//! whole and durably, the table of the files kept beside an output, and the lock on it.

mod companion;
pub(crate) mod earlier;
mod hash;
mod lock;
pub(crate) mod no_follow;
mod replace;

pub(crate) use companion::Companion;
pub(crate) use hash::{FileStamp, Fnv64, Hashing, hash_prefix, stamp_of};
pub(crate) use lock::OutputLock;
pub(crate) use replace::{Fresh, dir_of, replace, sync_dir, with_suffix};

use std::path::Path;

use crate::error::Error;

/// Refuses an output that cannot be made (a directory, a path in a directory that does not
/// exist) before anything else happens, with the reason in the user's terms rather than
/// those of the first file the tool would make beside it; and a symbolic link, unless
/// `force` (the link itself is then replaced by the output: the tool never writes through a
/// link it did not make).
pub(crate) fn check_output(path: &Path, force: bool) -> Result<(), Error> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    if !force && no_follow::is_link(path) {
        let target = std::fs::read_link(path)
            .map(|t| format!(" (to {})", t.display()))
            .unwrap_or_default();
        return Err(Error::usage(format!(
            "{} is a symbolic link{target}; parallel-batch does not write through a link: \
             give the file to write itself, or pass --force to replace the link with the \
             output",
            path.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::usage(format!(
            "{} is a directory; give the name of the file to write",
            path.display()
        )));
    }
    let dir = dir_of(path);
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(Error::usage(format!(
            "cannot write {}: {} is not a directory",
            path.display(),
            dir.display()
        ))),
        Err(e) => Err(Error::usage(format!(
            "cannot write {}: its directory {} {}",
            path.display(),
            dir.display(),
            if e.kind() == std::io::ErrorKind::NotFound {
                "does not exist".to_owned()
            } else {
                format!("cannot be read ({e})")
            }
        ))),
    }
}
