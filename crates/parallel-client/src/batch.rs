//! Batches (in progress).
