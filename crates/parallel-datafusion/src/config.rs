//! [`EnrichConfig`]: the `parallel.*` session settings.

use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;

extensions_options! {
    /// Session settings of `parallel_enrich`, which override the registration's:
    /// `SET parallel.processor = 'core'`, `SET parallel.timeout_seconds = 600`.
    /// [`ParallelEnrich::register`](crate::ParallelEnrich::register) adds them to the session.
    pub struct EnrichConfig {
        /// The processor of the runs (default: the registration's).
        pub processor: Option<String>, default = None
        /// The longest one call waits for its rows, in seconds (default: the registration's).
        pub timeout_seconds: Option<u64>, default = None
    }
}

impl ConfigExtension for EnrichConfig {
    const PREFIX: &'static str = "parallel";
}
