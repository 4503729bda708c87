//! parallel-transport (in progress).
