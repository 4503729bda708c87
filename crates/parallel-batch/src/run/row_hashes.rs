//! `<OUTPUT>.rows`: the hash of every input row when the job's input was last accepted, so a
//! later run can tell which rows a user changed. A cache of the input the state names: it is
//! rebuilt whenever the input still matches the state's fingerprint, so a crash between
//! saving the state and this file loses nothing.
//!
//! Format: the input fingerprint's hash (16 hex digits) and a newline, then one
//! little-endian `u64` per row.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::state::with_suffix;

/// Where the row hashes of the job writing `output` live.
pub(crate) fn path_for(output: &Path) -> PathBuf {
    with_suffix(output, ".rows")
}

/// Saves `hashes` for the input whose fingerprint hash is `input_hash`, atomically.
pub(crate) fn save(output: &Path, input_hash: &str, hashes: &[u64]) -> Result<(), Error> {
    let path = path_for(output);
    let tmp = with_suffix(&path, ".tmp");
    let write = || -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(17 + hashes.len() * 8);
        bytes.extend_from_slice(input_hash.as_bytes());
        bytes.push(b'\n');
        for hash in hashes {
            bytes.extend_from_slice(&hash.to_le_bytes());
        }
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, &path)
    };
    write().map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// The hashes saved for the input whose fingerprint hash is `input_hash`, if any.
pub(crate) fn load(output: &Path, input_hash: &str) -> Option<Vec<u64>> {
    let bytes = fs::read(path_for(output)).ok()?;
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
        let output = dir.path().join("out.csv");
        save(&output, "00ff", &[1, u64::MAX, 7]).unwrap();
        assert_eq!(load(&output, "00ff"), Some(vec![1, u64::MAX, 7]));
        assert_eq!(
            load(&output, "00fe"),
            None,
            "another input's hashes are not used"
        );
    }
}
