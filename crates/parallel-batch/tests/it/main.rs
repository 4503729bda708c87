//! End-to-end tests: the real `parallel-batch` binary against an emulator over loopback TCP.

mod basis;
mod companion;
mod cost;
mod delimited;
mod errors;
mod fixes;
#[cfg(unix)]
mod generate;
#[cfg(unix)]
mod links;
mod messages;
mod mistakes;
mod order;
mod outage;
#[cfg(feature = "parquet")]
mod parquet;
mod quota;
mod real_time;
mod rebuild;
mod results;
mod resume;
mod roundtrip;
mod start;
mod support;
mod typed;
