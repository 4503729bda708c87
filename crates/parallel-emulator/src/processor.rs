//! The simulated processors: names, latency ranges (the table in the crate docs and README)
//! and event defaults.

/// One processor tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Processor(u8);

/// Name, standard latency range and `-fast` latency range, in seconds.
type Tier = (&'static str, (u32, u32), (u32, u32));

const TIERS: [Tier; 9] = [
    ("lite", (10, 60), (10, 20)),
    ("base", (15, 100), (15, 50)),
    ("core", (60, 300), (15, 100)),
    ("core2x", (60, 600), (15, 180)),
    ("pro", (120, 600), (30, 300)),
    ("ultra", (300, 1500), (60, 600)),
    ("ultra2x", (300, 3000), (60, 1200)),
    ("ultra4x", (300, 5400), (60, 2400)),
    ("ultra8x", (300, 7200), (60, 3600)),
];

const FAST_NAMES: [&str; 9] = [
    "lite-fast",
    "base-fast",
    "core-fast",
    "core2x-fast",
    "pro-fast",
    "ultra-fast",
    "ultra2x-fast",
    "ultra4x-fast",
    "ultra8x-fast",
];

/// Index of `pro` in [`TIERS`]: it and every tier above it have run events on by default.
const PRO: usize = 4;

impl Processor {
    /// Looks a processor up by its API name; `None` for names the API does not know.
    pub(crate) fn from_name(name: &str) -> Option<Processor> {
        let tier = |i: usize| u8::try_from(i).ok();
        if let Some(i) = TIERS.iter().position(|t| t.0 == name) {
            return tier(i * 2).map(Processor);
        }
        FAST_NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| tier(i * 2 + 1))
            .map(Processor)
    }

    fn tier(self) -> usize {
        usize::from(self.0 / 2)
    }

    fn is_fast(self) -> bool {
        self.0 % 2 == 1
    }

    pub(crate) fn name(self) -> &'static str {
        if self.is_fast() {
            FAST_NAMES[self.tier()]
        } else {
            TIERS[self.tier()].0
        }
    }

    /// Latency range in seconds, before the time scale.
    pub(crate) fn latency_secs(self) -> (u32, u32) {
        let t = TIERS[self.tier()];
        if self.is_fast() { t.2 } else { t.1 }
    }

    /// Whether runs of this processor have progress events when `enable_events` is not given.
    pub(crate) fn events_by_default(self) -> bool {
        self.tier() >= PRO
    }

    /// Every name the API accepts, for error messages.
    pub(crate) fn all_names() -> impl Iterator<Item = &'static str> {
        TIERS.iter().map(|t| t.0).chain(FAST_NAMES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_rejected() {
        for name in Processor::all_names() {
            let p = Processor::from_name(name).unwrap();
            assert_eq!(p.name(), name);
        }
        assert_eq!(Processor::all_names().count(), 18);
        assert!(Processor::from_name("turbo").is_none());
        assert!(Processor::from_name("Core").is_none());
        assert_eq!(
            Processor::from_name("core-fast").unwrap().latency_secs(),
            (15, 100)
        );
        assert!(
            Processor::from_name("pro-fast")
                .unwrap()
                .events_by_default()
        );
        assert!(!Processor::from_name("core2x").unwrap().events_by_default());
    }
}
