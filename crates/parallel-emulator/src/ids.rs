//! Group and run identifiers: `tgrp_` / `trun_` followed by 32 lowercase hex digits.

use std::fmt;

/// A run id, stored as its 128-bit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RunId(pub(crate) u128);

/// A group id, stored as its 128-bit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct GroupId(pub(crate) u128);

impl RunId {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        parse_hex_id(s, "trun_").map(RunId)
    }
}

impl GroupId {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        parse_hex_id(s, "tgrp_").map(GroupId)
    }
}

fn parse_hex_id(s: &str, prefix: &str) -> Option<u128> {
    let hex = s.strip_prefix(prefix)?;
    if hex.len() != 32
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    u128::from_str_radix(hex, 16).ok()
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trun_{:032x}", self.0)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tgrp_{:032x}", self.0)
    }
}

impl serde::Serialize for RunId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl serde::Serialize for GroupId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_ids() {
        let id = RunId(0x0b6f_2d1c_9e8a_4f37_b2c5_d4e3_f1a0_b9c8);
        assert_eq!(id.to_string(), "trun_0b6f2d1c9e8a4f37b2c5d4e3f1a0b9c8");
        assert_eq!(RunId::parse(&id.to_string()), Some(id));
        assert_eq!(RunId::parse("trun_0B6F2D1C9E8A4F37B2C5D4E3F1A0B9C8"), None);
        assert_eq!(RunId::parse("tgrp_0b6f2d1c9e8a4f37b2c5d4e3f1a0b9c8"), None);
        assert_eq!(RunId::parse("trun_123"), None);
        assert_eq!(
            GroupId::parse("tgrp_+b6f2d1c9e8a4f37b2c5d4e3f1a0b9c8"),
            None
        );
        assert_eq!(
            GroupId(1).to_string(),
            "tgrp_00000000000000000000000000000001"
        );
    }
}
