//! Manual check: `cargo run -p mlgym-sandbox --example sbx_run -- MODE WORKDIR CMD...`
//! prints the outcome of one sandboxed run as JSON.
fn main() {
    mlgym_sandbox::init::run_if_requested();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: sbx_run auto|full|landlock WORKDIR CMD...");
        std::process::exit(2);
    }
    let mode = match args[0].as_str() {
        "full" => mlgym_sandbox::ModeRequest::Full,
        "landlock" => mlgym_sandbox::ModeRequest::Landlock,
        _ => mlgym_sandbox::ModeRequest::Auto,
    };
    let mut spec = mlgym_sandbox::SandboxSpec::new(&args[1]).mode(mode);
    spec.limits.wall = Some(std::time::Duration::from_secs(10));
    match mlgym_sandbox::run(&spec, &args[2..]) {
        Ok(o) => println!("{}", serde_json::to_string_pretty(&o).unwrap_or_default()),
        Err(e) => eprintln!("error: {e}"),
    }
}
