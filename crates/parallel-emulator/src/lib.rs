//! parallel-emulator (in progress).
