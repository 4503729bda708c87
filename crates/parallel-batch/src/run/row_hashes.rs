//! The row hashes kept beside the output: the hash of every input row when the job's input
//! was last accepted, so a later run can tell which rows a user changed. A cache of the
//! input the state names: it is rebuilt whenever the input still matches the state's
//! fingerprint, so a crash between saving the state and this file loses nothing.
//!
//! Format: the input fingerprint's hash (16 hex digits) and a newline, then one
//! little-endian `u64` per row.

use std::io::Write;

use crate::error::Error;
use crate::files::Companion;

/// Saves `hashes` for the input whose fingerprint hash is `input_hash`, atomically.
pub(crate) fn save(files: &Companion, input_hash: &str, hashes: &[u64]) -> Result<(), Error> {
    let path = files.row_hashes();
    crate::files::replace(&path, |file| {
        file.write_all(input_hash.as_bytes())?;
        file.write_all(b"\n")?;
        for hash in hashes {
            file.write_all(&hash.to_le_bytes())?;
        }
        Ok(())
    })
    .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// The hashes saved for the input whose fingerprint hash is `input_hash`, if any.
pub(crate) fn load(files: &Companion, input_hash: &str) -> Option<Vec<u64>> {
    let mut bytes = Vec::new();
    let mut file = crate::files::no_follow::open_to_read(&files.row_hashes()).ok()?;
    std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    if &bytes[..newline] != input_hash.as_bytes() {
        return None;
    }
    let body = &bytes[newline + 1..];
    if body.len() % 8 != 0 {
        return None;
    }
    Some(
        body.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_for_their_input_only() {
        let dir = tempfile::tempdir().unwrap();
        let files = Companion::of(&dir.path().join("out.csv"));
        files.make_dir().unwrap();
        save(&files, "00ff", &[1, u64::MAX, 7]).unwrap();
        assert_eq!(load(&files, "00ff"), Some(vec![1, u64::MAX, 7]));
        assert_eq!(
            load(&files, "00fe"),
            None,
            "another input's hashes are not used"
        );
    }
}
