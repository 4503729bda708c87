//! The `parallel-batch` command-line tool; see `parallel-batch --help`.

fn main() -> std::process::ExitCode {
    parallel_batch::main_with_args(std::env::args_os())
}
