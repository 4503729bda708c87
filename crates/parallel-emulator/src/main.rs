//! The `parallel-emulator` binary.
fn main() {}
