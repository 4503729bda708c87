//! parallel-types (in progress).
