//! Deterministic hashing and random numbers.
//!
//! Outputs, latencies and failures must be the same for the same seed and input on every
//! platform and Rust version, so nothing here uses `std`'s randomly keyed hasher.

/// FNV-1a over bytes, then a `SplitMix64` finaliser so that nearby inputs spread well.
pub(crate) fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// Combines two hashes into one.
pub(crate) fn combine(a: u64, b: u64) -> u64 {
    mix(a ^ b.rotate_left(29).wrapping_add(0x632b_e59b_d9b4_e019))
}

/// The `SplitMix64` finaliser.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A small deterministic generator (`SplitMix64`).
#[derive(Debug, Clone)]
pub(crate) struct DetRng {
    state: u64,
}

impl DetRng {
    pub(crate) fn new(seed: u64) -> Self {
        DetRng { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// Uniform in `[0, 1)`.
    #[allow(clippy::cast_precision_loss)] // 53 bits fit an f64 mantissa exactly
    pub(crate) fn unit(&mut self) -> f64 {
        // 53 random bits: the mantissa of an f64.
        let v = (self.next_u64() >> 11) as f64;
        v / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`0` when `n` is `0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform index into a slice of length `len`.
    pub(crate) fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Uniform integer in `[lo, hi]` (inclusive), for `lo <= hi`.
    pub(crate) fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo).saturating_add(1);
        lo.wrapping_add_unsigned(self.below(span))
    }

    /// A version-4 style UUID in the dashed form used for `ref_id`.
    pub(crate) fn uuid(&mut self) -> String {
        let hi = self.next_u64();
        let lo = self.next_u64();
        let v = (u128::from(hi) << 64) | u128::from(lo);
        // Set the version (4) and variant (10xx) bits.
        let v = (v & !(0xf_u128 << 76)) | (0x4_u128 << 76);
        let v = (v & !(0x3_u128 << 62)) | (0x2_u128 << 62);
        let s = format!("{v:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &s[0..8],
            &s[8..12],
            &s[12..16],
            &s[16..20],
            &s[20..32]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_different_seed_differs() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = DetRng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = DetRng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = DetRng::new(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(hash_bytes(1, b"abc"), hash_bytes(1, b"abd"));
        assert_ne!(hash_bytes(1, b"abc"), hash_bytes(2, b"abc"));
    }

    #[test]
    fn uuid_has_version_and_variant() {
        let mut r = DetRng::new(1);
        for _ in 0..100 {
            let u = r.uuid();
            assert_eq!(u.len(), 36);
            assert_eq!(&u[14..15], "4");
            assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        }
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = DetRng::new(3);
        for _ in 0..1000 {
            let v = r.range_i64(-5, 5);
            assert!((-5..=5).contains(&v));
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(r.range_i64(i64::MIN, i64::MIN), i64::MIN);
        let _ = r.range_i64(i64::MIN, i64::MAX);
    }
}
