//! Integration tests of the webhook verifier: vectors signed outside this crate, and
//! property tests of sign-then-verify.

mod props;
mod vectors;
