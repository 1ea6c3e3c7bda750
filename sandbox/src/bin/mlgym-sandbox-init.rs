//! Stand-alone sandbox helper for library users whose binary does not dispatch it.
fn main() {
    mlgym_sandbox::init::run_if_requested();
    eprintln!("mlgym-sandbox-init: not started by the sandbox");
    std::process::exit(125);
}
