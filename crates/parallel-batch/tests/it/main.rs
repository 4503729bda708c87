//! End-to-end tests: the real `parallel-batch` binary against an emulator over loopback TCP.

mod errors;
mod resume;
mod roundtrip;
mod support;
