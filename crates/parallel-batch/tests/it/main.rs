//! End-to-end tests: the real `parallel-batch` binary against an emulator over loopback TCP.

mod errors;
mod fixes;
mod messages;
mod mistakes;
mod outage;
mod quota;
mod resume;
mod roundtrip;
mod support;
