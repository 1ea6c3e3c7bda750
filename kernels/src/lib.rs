//! GPU discovery and exclusive leases through cudarc; CUDA kernels with CPU reference paths.

pub mod conv;
pub mod cpu_op;
pub mod cuda_envs;
pub mod gpu;
pub mod lease;
