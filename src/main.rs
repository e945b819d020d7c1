//! The `clientpulse` binary: everything lives in the library; this only
//! hands the process's exit code back.

fn main() -> std::process::ExitCode {
    clientpulse::cli::main()
}
