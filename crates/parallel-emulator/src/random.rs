//! Ids, `ref_id`s and secrets from the operating system's random source.
//!
//! They must not be guessable from one another: a `ref_id` handed to an unauthenticated
//! client, or an id of one group, tells nothing about any other id. Outputs, latencies and
//! faults stay deterministic for a seed ([`crate::rng`]); these are the values that must not.

use ring::rand::{SecureRandom as _, SystemRandom};

use crate::request::ApiError;

/// The operating system's random source.
#[derive(Debug, Clone)]
pub(crate) struct OsRandom(SystemRandom);

impl OsRandom {
    pub(crate) fn new() -> OsRandom {
        OsRandom(SystemRandom::new())
    }

    /// `n` random 128-bit ids, from one read of the source.
    pub(crate) fn ids(&self, n: usize) -> Result<Vec<u128>, ApiError> {
        let mut bytes = vec![0u8; n * 16];
        self.0.fill(&mut bytes).map_err(|_| unavailable())?;
        Ok(bytes
            .chunks_exact(16)
            .map(|chunk| u128::from_le_bytes(chunk.try_into().unwrap_or_default()))
            .collect())
    }

    /// A version-4 UUID in the dashed form used for `ref_id`. Should the source fail, the
    /// nil UUID of that form, which reveals nothing either.
    pub(crate) fn uuid(&self) -> String {
        let mut bytes = [0u8; 16];
        if self.0.fill(&mut bytes).is_err() {
            bytes = [0; 16];
        }
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex = format!("{:032x}", u128::from_be_bytes(bytes));
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// A webhook secret: `whsec_` and 256 random bits in hex.
    pub(crate) fn secret(&self) -> Result<String, String> {
        let mut bytes = [0u8; 32];
        self.0.fill(&mut bytes).map_err(|_| {
            "the operating system's random source failed; set a webhook secret".to_owned()
        })?;
        let (high, low) = bytes.split_at(16);
        let half = |b: &[u8]| u128::from_be_bytes(b.try_into().unwrap_or_default());
        Ok(format!("whsec_{:032x}{:032x}", half(high), half(low)))
    }
}

fn unavailable() -> ApiError {
    ApiError::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "Service unavailable: the random source for new ids failed; retry later",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_their_shape_and_differ() {
        let random = OsRandom::new();
        let ids = random.ids(3).unwrap();
        assert_eq!(ids.len(), 3);
        assert!(ids[0] != ids[1] && ids[1] != ids[2]);
        let uuid = random.uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
        assert_ne!(uuid, random.uuid());
        let secret = random.secret().unwrap();
        assert_eq!(secret.len(), "whsec_".len() + 64);
        assert_ne!(secret, random.secret().unwrap());
    }
}
