//! The prompts: system prompt (role, command docs, response format, tips), the task
//! prompt, the per-step observation and its status footer. The structure follows
//! MLGym's default agent; the wording is ours.

use std::path::Path;

/// What the footer shows.
#[derive(Clone, Debug)]
pub struct Footer<'a> {
    /// Steps taken so far.
    pub current_step: usize,
    /// Step budget.
    pub max_steps: usize,
    /// The open file, as the agent sees it.
    pub open_file: Option<&'a Path>,
    /// The shell's working directory, as the agent sees it.
    pub cwd: &'a Path,
    /// The memory's record count and key words, when memory is on.
    pub memory: Option<crate::memory::MemoryStatus>,
}

/// The status footer (MLGym's exact machine-visible layout; with memory on, MLGym's
/// memory config adds `(Memory records number: N)` and `(Memory key words: ...)` before
/// the prompt).
pub fn footer(f: &Footer<'_>) -> String {
    let open = f
        .open_file
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "n/a".into());
    let memory = match &f.memory {
        None => String::new(),
        Some(m) => format!(
            "(Memory records number: {})\n(Memory key words: {})\n",
            m.records,
            if m.keywords.is_empty() {
                "none".to_string()
            } else {
                m.keywords.join(", ")
            }
        ),
    };
    format!(
        "(Current Step: {}, Remaining Steps: {})\n(Open file: {open})\n(Current directory: {})\n{memory}bash-$",
        f.current_step,
        f.max_steps.saturating_sub(f.current_step),
        f.cwd.display()
    )
}

/// The system prompt.
pub fn system(command_docs: &str, window: usize, training_timeout: u64) -> String {
    format!(
        "SETTING: You are an autonomous machine-learning researcher working in a command-line \
environment with a few extra commands.\n\n\
The environment has a file viewer that shows {window} lines of a file at a time. Besides \
ordinary bash commands, you can use these commands to look at, search and edit files:\n\n\
COMMANDS:\n{command_docs}\n\
Indentation matters: when you use `edit` or `insert`, write every line with the \
indentation it must have in the file (e.g. `        x = 1` inside a method).\n\n\
RESPONSE FORMAT:\n\
Every response has two parts: a short discussion under the heading DISCUSSION, then \
exactly ONE command in a single fenced code block, for example:\n\n\
DISCUSSION\n\
I want to see which files the task gives me.\n\n\
```\n\
ls -la\n\
```\n\n\
Send one command per response and wait for its output before the next one. Nothing may \
follow the code block. Interactive programs (a Python REPL, vim, less) are not available.\n\n\
Your goal is the best score you can reach, not just a first working solution: try \
ideas, measure them with `validate`, and use `submit` when you are done.\n\n\
TIPS:\n\
1. Read the task description and the starter files (baseline, evaluation notes) first.\n\
2. If a command fails, change something before trying again; repeating it gives the same error.\n\
3. To reach a line in an open file, use `goto <line>` rather than scrolling.\n\
4. Watch the open file and the current directory in the status lines; commands run in the current directory.\n\
5. After an edit, look at the file window shown to check the result.\n\
6. Your steps are limited: validate often, and submit before you run out.\n\
7. Every command must finish within {training_timeout} seconds (training commands included); long jobs must be made shorter or run in stages.\n\
8. Use `validate` to score your work; running an evaluation yourself is not recorded.\n"
    )
}

/// The first user message: the task and how to work on it.
pub fn task(description: &str, footer_text: &str) -> String {
    format!(
        "We are working on the following task.\n\nTASK DESCRIPTION:\n{description}\n\n\
INSTRUCTIONS:\n\
Your shell has started in the workspace. Use bash and the commands above to study the \
task, improve on the baseline and produce the submission artefacts the task description \
asks for. Send ONE command per response and wait for its result. `validate` scores your \
current submission without ending the episode; `submit` scores it and ends the episode.\n\
Interactive sessions (python, vim) are not supported; write scripts and run them.\n\
When editing, give every line its full indentation.\n\n{footer_text}"
    )
}

/// A user message after a command.
pub fn observation(output: &str, footer_text: &str) -> String {
    if output.trim().is_empty() {
        format!("Your command ran successfully and did not produce any output.\n{footer_text}")
    } else {
        format!("{output}\n{footer_text}")
    }
}

/// The message sent back after a response that could not be parsed.
pub fn format_error(problem: &str) -> String {
    format!(
        "Your response could not be used: {problem}\nPlease answer with a DISCUSSION section \
followed by exactly one fenced code block holding one command, like this:\n\n\
DISCUSSION\nwhat you want to do and why\n\n```\ncommand\n```\n"
    )
}
