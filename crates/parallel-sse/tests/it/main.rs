//! Integration tests for `parallel_sse`: every rule of the SSE parsing checklist, property tests
//! against a reference parser, zero-copy and allocation checks, and the stream adapter.

mod alloc;
mod harness;
mod limits;
mod props;
mod reference;
mod rules;
mod stream;
mod zero_copy;
