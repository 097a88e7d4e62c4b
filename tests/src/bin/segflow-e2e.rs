//! The `segflow` command line, built inside this package so its integration tests can run the
//! real binary (`CARGO_BIN_EXE_segflow-e2e`); it is the same one-liner as the CLI's main.rs.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(segflow_cli::main(std::env::args_os()))
}
