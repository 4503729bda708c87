//! Integration tests of the wire types: the spec samples and the lenient-decoding corpus
//! (the property tests are in `src/proptests.rs`, where every type can be built by literal).

mod borrowed;
mod corpus;
mod samples;
#[cfg(feature = "schemars")]
mod schema;
