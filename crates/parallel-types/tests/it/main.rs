//! Integration tests of the wire types: the spec samples, the lenient-decoding corpus and
//! property tests.

mod borrowed;
mod corpus;
mod props;
mod samples;
#[cfg(feature = "schemars")]
mod schema;
