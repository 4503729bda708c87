//! Integration tests of the wire types: the spec samples and property tests.

mod borrowed;
mod props;
mod samples;
#[cfg(feature = "schemars")]
mod schema;
