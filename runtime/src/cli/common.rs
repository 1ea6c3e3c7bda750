//! Options shared by the subcommands that run agent code: sandbox mode, interpreter,
//! data root.

use anyhow::Context;
use clap::Args;
use mlgym_sandbox::ModeRequest;
use mlgym_tasks::python::PythonEnv;

/// Sandbox and interpreter options.
#[derive(Debug, Clone, Args)]
pub struct SandboxOpts {
    /// Sandbox mode for agent code: auto (strongest available), full or landlock.
    #[arg(long, default_value = "auto", value_name = "MODE")]
    pub sandbox: String,
    /// Run agent code WITHOUT any isolation (debugging on a trusted machine only).
    #[arg(long)]
    pub unsafe_no_sandbox: bool,
    /// Python interpreter for agent code (default: $MLGYM_PYTHON or /usr/bin/python3).
    #[arg(long, value_name = "PATH")]
    pub python: Option<std::path::PathBuf>,
}

impl SandboxOpts {
    /// The requested mode.
    pub fn mode(&self) -> anyhow::Result<ModeRequest> {
        if self.unsafe_no_sandbox {
            eprintln!("WARNING: --unsafe-no-sandbox: agent code runs WITHOUT any isolation");
            return Ok(ModeRequest::UnsafeNone);
        }
        match self.sandbox.as_str() {
            "auto" => Ok(ModeRequest::Auto),
            "full" => Ok(ModeRequest::Full),
            "landlock" => Ok(ModeRequest::Landlock),
            other => anyhow::bail!("--sandbox `{other}` is not one of: auto, full, landlock"),
        }
    }

    /// The interpreter.
    pub fn python(&self) -> anyhow::Result<PythonEnv> {
        match &self.python {
            Some(p) => PythonEnv::at(p).context("--python"),
            None => PythonEnv::from_env().context("the Python interpreter for agent code"),
        }
    }
}

/// Looks a task up, with the registry's error (which lists the known ids).
pub fn task(id: &str) -> anyhow::Result<&'static mlgym_tasks::Task> {
    Ok(mlgym_tasks::registry::get(id)?)
}
