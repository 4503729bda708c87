//! Integration tests of the webhook verifier: vectors signed outside this crate, property
//! tests of sign-then-verify, and deliveries from the emulator to a receiver, end to end.

mod end_to_end;
mod props;
mod vectors;
