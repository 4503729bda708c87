//! parallel-client (in progress).
