//! Integration tests of the client against the emulator over loopback TCP, with the real
//! hyper transport.

mod batch;
mod common;
mod endpoints;
mod faults;
mod streams;
