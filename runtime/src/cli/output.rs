//! Shared output conventions of every subcommand: JSON on stdout for scripts, one-line
//! errors for people.

use std::process::ExitCode;

use serde::Serialize;

/// Prints `value` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: could not serialise the result as JSON: {e}"),
    }
}

/// Reports `err` (with its chain of causes) and returns exit status 2. With `json`, also
/// prints `{"error": "..."}` on stdout so that scripts always get an object.
pub fn fail(err: &anyhow::Error, json: bool) -> ExitCode {
    let msg = format!("{err:#}");
    if json {
        print_json(&serde_json::json!({ "error": msg }));
    }
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// Runs `f`, turning an error into [`fail`].
pub fn finish(json: bool, f: impl FnOnce() -> anyhow::Result<ExitCode>) -> ExitCode {
    match f() {
        Ok(code) => code,
        Err(e) => fail(&e, json),
    }
}
