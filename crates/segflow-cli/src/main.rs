fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(segflow_cli::main(std::env::args_os()))
}
