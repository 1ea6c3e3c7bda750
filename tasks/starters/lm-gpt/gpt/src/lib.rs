//! The GPT trainer of languageModelingFineWeb as a crate of its own.
//!
//! `lm/{config,error,evaluate,model,muon,ops,shards,train,weights}.rs`, `rng.rs` and
//! `cpu_op.rs` are the mlgym library's own files (the evaluator builds the submitted
//! model with the same `model.rs`); `lib.rs`, `lm/mod.rs`, `datasets.rs` and `main.rs`
//! belong to this crate.

// The shared `lm/ops.rs` names the library's kernels crate (`mlgym_kernels::cpu_op`);
// here that module is this crate's `cpu_op`.
extern crate self as mlgym_kernels;

pub mod cpu_op;
pub mod datasets;
pub mod lm;
pub mod rng;
