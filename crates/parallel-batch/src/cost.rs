//! What a `run` will cost, said before anything is sent: the estimate every run prints when
//! it starts and `--dry-run` answers with, from the client's price table
//! ([`PriceTable`], list prices overridden by `PARALLEL_PRICES`, then by `--prices`), and the
//! `--max-cost` limit checked against it.

use parallel_client::pricing::{Estimate, PRICES_ENV, PriceTable};
use parallel_types::Processor;

use crate::error::Error;

/// The prices a job is estimated with, and the most it may cost.
#[derive(Debug, Clone)]
pub(crate) struct Pricing {
    prices: PriceTable,
    /// `--max-cost`, in USD.
    max_usd: Option<f64>,
}

impl Pricing {
    /// The list prices, overridden by `PARALLEL_PRICES` and then by `--prices`; and the
    /// `--max-cost` limit. A price or limit that cannot be read is a usage error naming
    /// where it came from.
    pub(crate) fn new(prices: Option<&str>, max_cost: Option<f64>) -> Result<Self, Error> {
        let env = std::env::var(PRICES_ENV).ok();
        Self::from_parts(env.as_deref(), prices, max_cost)
    }

    fn from_parts(
        env: Option<&str>,
        flag: Option<&str>,
        max_cost: Option<f64>,
    ) -> Result<Self, Error> {
        let mut prices = PriceTable::standard();
        for (source, overrides) in [(PRICES_ENV, env), ("--prices", flag)] {
            if let Some(overrides) = overrides {
                prices = prices
                    .overridden(overrides)
                    .map_err(|e| Error::usage(format!("{source}: {e}")))?;
            }
        }
        if let Some(max) = max_cost
            && !(max.is_finite() && max >= 0.0)
        {
            return Err(Error::usage(format!(
                "--max-cost {max}: expected an amount of US dollars, 0 or more"
            )));
        }
        Ok(Self {
            prices,
            max_usd: max_cost,
        })
    }

    /// What `runs` runs on `processor` cost; `None` for a processor without a price.
    pub(crate) fn estimate(&self, processor: &Processor, runs: u64) -> Option<Estimate> {
        self.prices.estimate(processor.as_str(), runs)
    }

    /// The estimate of `runs` runs on `processor`, refused (a usage error: nothing is sent)
    /// when it is over `--max-cost`, or when there is a limit and no price to check it by.
    pub(crate) fn check(
        &self,
        processor: &Processor,
        runs: u64,
    ) -> Result<Option<Estimate>, Error> {
        let estimate = self.estimate(processor, runs);
        let Some(max) = self.max_usd else {
            return Ok(estimate);
        };
        match &estimate {
            None if runs > 0 => Err(Error::usage(format!(
                "--max-cost {max} cannot be checked: {}; nothing was sent",
                no_price(processor)
            ))),
            Some(estimate) if estimate.usd() > max => Err(Error::usage(format!(
                "the job is over --max-cost {max}: {estimate}; nothing was sent. To run it, \
                 raise the limit (--max-cost {} or more), or send fewer rows",
                dollars_up(estimate.usd())
            ))),
            _ => Ok(estimate),
        }
    }
}

/// Why there is no estimate for `processor`, and how to give a price.
pub(crate) fn no_price(processor: &Processor) -> String {
    let name = processor.as_str();
    format!(
        "there is no price for processor `{name}`; give its price in USD per 1,000 runs with \
         --prices {name}=USD (or {PRICES_ENV}={name}=USD)"
    )
}

/// `usd` rounded up to the cent, without a needless fraction: `2500`, `12.35`.
fn dollars_up(usd: f64) -> String {
    let cents = (usd * 100.0).ceil() / 100.0;
    let text = format!("{cents:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The estimate as JSON members: `processor`, `usd` and `usd_per_1000` (`null` without a
/// price).
pub(crate) fn json_members(
    estimate: Option<&Estimate>,
    processor: &Processor,
) -> serde_json::Map<String, serde_json::Value> {
    let mut members = serde_json::Map::new();
    members.insert("processor".into(), processor.as_str().into());
    members.insert("usd".into(), estimate.map(Estimate::usd).into());
    members.insert(
        "usd_per_1000".into(),
        estimate.map(Estimate::per_thousand).into(),
    );
    members
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pricing(env: Option<&str>, flag: Option<&str>, max: Option<f64>) -> Pricing {
        Pricing::from_parts(env, flag, max).unwrap()
    }

    #[test]
    fn the_flag_overrides_the_environment_which_overrides_the_list() {
        let core = Processor::from("core-fast");
        let list = pricing(None, None, None).estimate(&core, 1000).unwrap();
        assert!((list.usd() - 25.0).abs() < 1e-9);
        let env = pricing(Some("core=20,pro=80"), None, None);
        assert!((env.estimate(&core, 1000).unwrap().usd() - 20.0).abs() < 1e-9);
        let both = pricing(Some("core=20"), Some("core=18"), None);
        assert!((both.estimate(&core, 1000).unwrap().usd() - 18.0).abs() < 1e-9);
        assert!(both.estimate(&Processor::from("warp"), 10).is_none());
    }

    #[test]
    fn bad_prices_and_limits_are_usage_errors_that_say_where() {
        let err = Pricing::from_parts(Some("core=lots"), None, None).unwrap_err();
        assert!(err.is_usage() && err.to_string().starts_with("PARALLEL_PRICES: "));
        let err = Pricing::from_parts(None, Some("core"), None).unwrap_err();
        assert!(err.is_usage() && err.to_string().starts_with("--prices: "));
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let err = Pricing::from_parts(None, None, Some(bad)).unwrap_err();
            assert!(
                err.is_usage() && err.to_string().contains("--max-cost"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_limit_refuses_a_dearer_job_and_one_it_cannot_price() {
        let core = Processor::from("core");
        let limited = pricing(None, None, Some(100.0));
        // 4,000 runs at USD 25 per 1,000: USD 100, at the limit.
        assert!(limited.check(&core, 4000).unwrap().is_some());
        let err = limited.check(&core, 4001).unwrap_err();
        let text = err.to_string();
        assert!(err.is_usage(), "{text}");
        assert!(
            text.contains("4,001 runs on core: about USD 100.03")
                && text.contains("--max-cost 100.03 or more"),
            "{text}"
        );
        let unknown = Processor::from("warp");
        let err = limited.check(&unknown, 10).unwrap_err().to_string();
        assert!(
            err.contains("no price for processor `warp`") && err.contains("--prices warp=USD"),
            "{err}"
        );
        // Nothing to send costs nothing, whatever the processor.
        assert!(limited.check(&unknown, 0).unwrap().is_none());
        assert!(
            pricing(None, None, None)
                .check(&unknown, 10)
                .unwrap()
                .is_none()
        );
    }
}
