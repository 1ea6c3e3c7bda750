//! The `mlgym` binary: a thin shell over `mlgym_runtime::cli`.

fn main() -> std::process::ExitCode {
    // The sandbox re-executes this binary as its pid-1 helper; that must happen before
    // anything else (no threads, no allocation-heavy setup).
    mlgym_sandbox::init::run_if_requested();
    mlgym_runtime::cli::main()
}
