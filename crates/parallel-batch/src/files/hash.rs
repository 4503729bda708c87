//! What tells one file from another: its length and an FNV-1a 64 hash of its bytes.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// FNV-1a 64: tiny, dependency-free, and plenty to notice that a file changed. It is not
/// collision-resistant: it guards against accidents (a sort, an edit, another file), not
/// against a forger.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// Feeds bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash as a number.
    pub(crate) fn value(self) -> u64 {
        self.0
    }

    /// The hash as 16 hex digits.
    pub(crate) fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// A file as it was read or written: its length and the FNV-1a 64 hash (hex) of its bytes.
/// The state records the input this way, a rewritten output before it replaces the old one,
/// and a finished Parquet output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileStamp {
    /// Size in bytes.
    pub(crate) len: u64,
    /// FNV-1a 64 of the bytes, hex.
    pub(crate) hash: String,
}

/// The stamp of the whole file at `path`.
pub(crate) fn stamp_of(path: &Path) -> std::io::Result<FileStamp> {
    Ok(hash_prefix(&mut File::open(path)?, u64::MAX)?.stamp())
}

/// The first `len` bytes of `file` (fewer if it is shorter), read from where it stands,
/// counted and hashed: their stamp, and the hash to go on with after them.
pub(crate) fn hash_prefix(file: &mut File, len: u64) -> std::io::Result<Hashing<()>> {
    let mut hashing = Hashing::new(std::io::sink());
    std::io::copy(&mut file.take(len), &mut hashing)?;
    Ok(Hashing {
        inner: (),
        hash: hashing.hash,
        len: hashing.len,
    })
}

/// A reader or writer that counts and hashes every byte that goes through it.
#[derive(Debug)]
pub(crate) struct Hashing<T> {
    inner: T,
    hash: Fnv64,
    len: u64,
}

impl<T> Hashing<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self {
            inner,
            hash: Fnv64::default(),
            len: 0,
        }
    }

    /// What went through so far.
    pub(crate) fn stamp(&self) -> FileStamp {
        FileStamp {
            len: self.len,
            hash: self.hash.hex(),
        }
    }

    /// The hash so far, to go on with.
    pub(crate) fn hash(&self) -> Fnv64 {
        self.hash
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_the_reference_value() {
        // Reference vector from the FNV specification: fnv1a64("a").
        let mut h = Fnv64::default();
        h.update(b"a");
        assert_eq!(h.hex(), "af63dc4c8601ec8c");
    }

    #[test]
    fn a_stamp_is_the_same_read_or_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut writer = Hashing::new(File::create(&path).unwrap());
        writer.write_all(b"hello, ").unwrap();
        writer.write_all(b"world").unwrap();
        let written = writer.stamp();
        assert_eq!(written.len, 12);
        assert_eq!(stamp_of(&path).unwrap(), written);
        let mut file = File::open(&path).unwrap();
        let prefix = hash_prefix(&mut file, 5).unwrap().stamp();
        let mut h = Fnv64::default();
        h.update(b"hello");
        assert_eq!((prefix.len, prefix.hash), (5, h.hex()));
    }
}
