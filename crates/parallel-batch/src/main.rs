//! The `parallel-batch` command-line tool.
fn main() {}
