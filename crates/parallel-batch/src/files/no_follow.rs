//! Opening the tool's own files without following a symbolic link at their name: the tool
//! never writes through a link it did not make (a link planted at `OUTPUT`'s lock, say,
//! would have it truncate whatever file the link names).

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::Path;

/// Opens `path` with `options`, refusing a symbolic link at the path's last component.
pub(crate) fn open(path: &Path, options: &mut OpenOptions) -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOFOLLOW is a small positive flag on every Unix.
        #[allow(clippy::cast_possible_wrap)]
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options
        .open(path)
        .map_err(|e| if is_link(path) { link_refused(path) } else { e })
}

/// Opens `path` to read it, refusing a symbolic link.
pub(crate) fn open_to_read(path: &Path) -> std::io::Result<File> {
    open(path, OpenOptions::new().read(true))
}

/// Whether `path` itself is a symbolic link (not followed).
pub(crate) fn is_link(path: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
}

/// The error for a symbolic link where the tool writes its own file.
pub(crate) fn link_refused(path: &Path) -> std::io::Error {
    std::io::Error::new(
        ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link, and parallel-batch does not write through a link it did \
             not make; remove the link",
            path.display()
        ),
    )
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("out.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open(
            &link,
            OpenOptions::new().write(true).create(true).truncate(true),
        )
        .unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        // A dangling link: its target is not created.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(open(&dangling, OpenOptions::new().write(true).create(true)).is_err());
        assert!(!dir.path().join("nowhere").exists());
        assert!(open_to_read(&target).is_ok());
    }
}
