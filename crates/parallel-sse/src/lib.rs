//! parallel-sse (in progress).
