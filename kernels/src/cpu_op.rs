//! Reading the `f32` data of CPU tensors inside candle custom ops (`CustomOp1/2/3`),
//! shared by [`crate::conv`] and the fused language-model ops of `mlgym_tasks::lm`.

use candle_core::backend::BackendStorage as _;
use candle_core::{bail, CpuStorage, Layout, Storage, Tensor};

/// The contiguous `f32` elements of a CPU storage; `op` and `what` (the argument's name)
/// make the error say which op got the wrong input.
pub fn f32s<'a>(
    op: &str,
    what: &str,
    s: &'a CpuStorage,
    l: &Layout,
) -> candle_core::Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v.as_slice(),
        other => bail!("{op}: {what} must be f32, got {:?}", other.dtype()),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{op}: {what} must be contiguous"),
    }
}

/// Runs `f` on the contiguous `f32` data of a CPU tensor (made contiguous first), as a
/// custom op's backward pass needs; borrows instead of copying the data out.
pub fn with_f32<R>(
    op: &str,
    what: &str,
    t: &Tensor,
    f: impl FnOnce(&[f32]) -> R,
) -> candle_core::Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(s) => Ok(f(f32s(op, what, s, layout)?)),
        _ => bail!("{op}: only the CPU is supported"),
    }
}
