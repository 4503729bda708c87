//! parallel-batch (in progress).
