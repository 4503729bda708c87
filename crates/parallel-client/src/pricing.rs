//! What runs cost: the processors' list prices, and estimates from them.
//!
//! The API bills per run, by processor, whatever the number of output fields; a `-fast`
//! processor costs what its standard one does. [`PriceTable::standard`] holds the list
//! prices; an account with other prices overrides them ([`PriceTable::with_price`], or
//! [`PriceTable::from_env`] with `PARALLEL_PRICES`).
//!
//! ```
//! use parallel_client::pricing::PriceTable;
//!
//! let prices = PriceTable::standard();
//! let estimate = prices.estimate("core-fast", 100_000).expect("a known processor");
//! assert_eq!(estimate.usd(), 2500.0);
//! assert_eq!(estimate.to_string(), "100,000 runs on core-fast: about USD 2,500.00 (USD 25 per 1,000 runs)");
//! assert!(prices.estimate("warp-drive", 10).is_none(), "an unknown processor has no price");
//!
//! // An account with its own price for `core`:
//! let mine = PriceTable::standard().overridden("core=20")?;
//! assert_eq!(mine.estimate("core", 1000).unwrap().usd(), 20.0);
//! # Ok::<(), parallel_client::Error>(())
//! ```

use std::fmt;

use crate::error::Error;

/// The date of the list prices of [`PriceTable::standard`].
pub const PRICES_AS_OF: &str = "2026-05-02";

/// Where the list prices of [`PriceTable::standard`] come from.
pub const PRICES_SOURCE: &str = "the Parallel Task API pricing (docs.parallel.ai, processors)";

/// The environment variable [`PriceTable::from_env`] reads: `processor=USD per 1,000 runs`
/// pairs separated by commas, e.g. `core=20,pro=80`.
pub const PRICES_ENV: &str = "PARALLEL_PRICES";

/// List prices in USD per 1,000 runs, by standard processor (as of [`PRICES_AS_OF`]).
const LIST_PRICES: [(&str, f64); 9] = [
    ("lite", 5.0),
    ("base", 10.0),
    ("core", 25.0),
    ("core2x", 50.0),
    ("pro", 100.0),
    ("ultra", 300.0),
    ("ultra2x", 600.0),
    ("ultra4x", 1200.0),
    ("ultra8x", 2400.0),
];

/// Prices in USD per 1,000 runs, by processor; see the [module documentation](self).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    /// `(standard processor name, USD per 1,000 runs)`.
    prices: Vec<(String, f64)>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::standard()
    }
}

impl PriceTable {
    /// The list prices, as of [`PRICES_AS_OF`], from [`PRICES_SOURCE`].
    pub fn standard() -> Self {
        Self {
            prices: LIST_PRICES
                .iter()
                .map(|(name, usd)| ((*name).to_owned(), *usd))
                .collect(),
        }
    }

    /// The list prices, with the overrides of `PARALLEL_PRICES` when it is set.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var(PRICES_ENV) {
            Ok(overrides) => Self::standard().overridden(&overrides),
            Err(_) => Ok(Self::standard()),
        }
    }

    /// These prices with `processor`'s set to `usd_per_1000` runs (its `-fast` variant
    /// follows it). A name the table does not know is added.
    #[must_use]
    pub fn with_price(mut self, processor: &str, usd_per_1000: f64) -> Self {
        let name = standard_name(processor).to_owned();
        match self.prices.iter_mut().find(|(known, _)| *known == name) {
            Some(entry) => entry.1 = usd_per_1000,
            None => self.prices.push((name, usd_per_1000)),
        }
        self
    }

    /// These prices with overrides written as `processor=USD per 1,000 runs` pairs separated
    /// by commas (`core=20,pro=80`), the format of `PARALLEL_PRICES`.
    pub fn overridden(mut self, overrides: &str) -> Result<Self, Error> {
        for pair in overrides
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let parsed = pair.split_once('=').and_then(|(name, usd)| {
                let usd: f64 = usd.trim().parse().ok()?;
                (usd.is_finite() && usd >= 0.0 && !name.trim().is_empty())
                    .then(|| (name.trim(), usd))
            });
            let Some((name, usd)) = parsed else {
                return Err(Error::config(format!(
                    "price `{pair}` is not `processor=USD per 1,000 runs` (for example `core=20`); \
                     prices are written `processor=price` pairs separated by commas"
                )));
            };
            self = self.with_price(name, usd);
        }
        Ok(self)
    }

    /// The price of 1,000 runs on `processor`, or `None` for a processor the table does not
    /// know.
    pub fn per_thousand(&self, processor: &str) -> Option<f64> {
        let name = standard_name(processor);
        self.prices
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, usd)| *usd)
    }

    /// What `runs` runs on `processor` cost, or `None` for a processor the table does not
    /// know (say a new one: no estimate is better than a wrong one).
    pub fn estimate(&self, processor: &str, runs: u64) -> Option<Estimate> {
        Some(Estimate {
            processor: processor.to_owned(),
            runs,
            per_thousand: self.per_thousand(processor)?,
        })
    }
}

/// The standard processor a name is priced as: `core-fast` costs what `core` does.
fn standard_name(processor: &str) -> &str {
    processor.strip_suffix("-fast").unwrap_or(processor)
}

/// What a number of runs on one processor cost, by a [`PriceTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    processor: String,
    runs: u64,
    per_thousand: f64,
}

impl Estimate {
    /// The estimated cost in USD.
    pub fn usd(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let runs = self.runs as f64;
        runs * self.per_thousand / 1000.0
    }

    /// The runs estimated.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// The price used, in USD per 1,000 runs.
    pub fn per_thousand(&self) -> f64 {
        self.per_thousand
    }

    /// The processor priced.
    pub fn processor(&self) -> &str {
        &self.processor
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} runs on {}: about USD {} (USD {} per 1,000 runs)",
            grouped(self.runs),
            self.processor,
            usd(self.usd()),
            trim_price(self.per_thousand),
        )
    }
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount of USD with cents and grouped thousands: `2,500.00`.
fn usd(amount: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let cents = (amount * 100.0).round().max(0.0) as u64;
    format!("{}.{:02}", grouped(cents / 100), cents % 100)
}

/// A price without a needless fraction: `25`, `2.5`.
fn trim_price(price: f64) -> String {
    let text = format!("{price:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // the prices and products compared are exact in binary
mod tests {
    use super::*;

    #[test]
    fn every_processor_of_the_list_has_its_price_and_fast_ones_the_same() {
        let prices = PriceTable::standard();
        for (name, usd) in LIST_PRICES {
            assert_eq!(prices.per_thousand(name), Some(usd));
            assert_eq!(prices.per_thousand(&format!("{name}-fast")), Some(usd));
        }
        // The job the docs give as an example: 100,000 core runs, about USD 2,500.
        assert_eq!(prices.estimate("core", 100_000).unwrap().usd(), 2500.0);
    }

    #[test]
    fn overrides_change_one_price_and_bad_ones_say_what_is_expected() {
        let prices = PriceTable::standard()
            .overridden(" core = 20 , newproc=7.5")
            .unwrap();
        assert_eq!(prices.per_thousand("core-fast"), Some(20.0));
        assert_eq!(prices.per_thousand("pro"), Some(100.0));
        assert_eq!(prices.per_thousand("newproc"), Some(7.5));
        for bad in ["core", "core=", "=3", "core=-1", "core=lots"] {
            let error = PriceTable::standard().overridden(bad).unwrap_err();
            assert!(error.is_config(), "{bad}");
            assert!(error.to_string().contains("processor=USD"), "{error}");
        }
    }

    #[test]
    fn an_estimate_reads_in_dollars_and_cents() {
        let prices = PriceTable::standard().with_price("lite", 2.5);
        assert_eq!(
            prices.estimate("lite", 1_234_567).unwrap().to_string(),
            "1,234,567 runs on lite: about USD 3,086.42 (USD 2.5 per 1,000 runs)"
        );
        assert_eq!(usd(0.004), "0.00");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
    }
}
