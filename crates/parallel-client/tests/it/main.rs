//! Integration tests of the client against the emulator over loopback TCP, with the real
//! hyper transport.

mod batch;
mod betas;
mod budget;
mod common;
mod endpoints;
mod errors;
mod faults;
mod outages;
mod proxy;
mod reach;
mod reachability;
mod requests;
mod scripted;
mod stream_events;
mod stream_lifetimes;
mod streams;
