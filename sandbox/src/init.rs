//! The sandbox's pid-1 helper (placeholder).

/// Runs the helper when this process was started as one; returns otherwise.
pub fn run_if_requested() {}
