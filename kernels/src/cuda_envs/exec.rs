//! Where the kernels run: a CUDA device (NVRTC + cudarc) or the host emulation.
//!
//! Both backends take the same argument block ([`KernelArgs`], the mirror of the C struct
//! `MlgymEnvArgs`) holding raw buffer addresses, so [`super::GpuVecEnv`] drives them
//! identically. At start-up `mlgym_probe_layout` reports the compiler's layout of the
//! block, and a mismatch is an error rather than corrupt memory.

use std::sync::Arc;

use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DeviceRepr,
    LaunchConfig, PushKernelArg,
};

use super::emulate::HostModule;
use super::{source, GpuEnvError};
use crate::gpu::cuda::{driver_err, driver_present, guarded};
use crate::gpu::GpuError;

/// Threads per block.
const BLOCK: u32 = 256;

/// The mirror of `MlgymEnvArgs` (see `cu/common.cuh` for the meaning of each field).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KernelArgs {
    pub si: [u64; 10],
    pub sf: [u64; 4],
    pub su: [u64; 2],
    pub rng: u64,
    pub act_i: u64,
    pub act_f: u64,
    pub step_draw: u64,
    pub reset_draw_i: u64,
    pub reset_draw_f: u64,
    pub obs: u64,
    pub final_obs: u64,
    pub reward: u64,
    pub terminated: u64,
    pub truncated: u64,
    pub seed: u64,
    pub n: u32,
    pub flags: u32,
    pub t: u32,
    pub pad0: u32,
    pub pf: [f32; 12],
    pub pi: [i32; 4],
}

// SAFETY: a plain #[repr(C)] block of integers and floats whose layout the probe kernel
// checks against the CUDA compiler's; it is copied into the kernel's parameter space.
unsafe impl DeviceRepr for KernelArgs {}

/// Byte offsets the probe kernel must report: size, `seed`, `n`, `pf`, `pi`.
fn expected_layout() -> [i32; 5] {
    let a = KernelArgs::default();
    let base = &a as *const KernelArgs as usize;
    let off = |p: usize| (p - base) as i32;
    [
        std::mem::size_of::<KernelArgs>() as i32,
        off(&a.seed as *const u64 as usize),
        off(&a.n as *const u32 as usize),
        off(a.pf.as_ptr() as usize),
        off(a.pi.as_ptr() as usize),
    ]
}

/// Device memory (or host memory standing in for it).
pub(crate) enum DevBuf {
    /// A CUDA allocation and its device address.
    Cuda(CudaSlice<u8>, u64),
    /// Host memory of the emulation (u64 words for alignment).
    Host(Vec<u64>),
}

impl DevBuf {
    /// The address the kernels see.
    pub(crate) fn addr(&self) -> u64 {
        match self {
            DevBuf::Cuda(_, p) => *p,
            DevBuf::Host(v) => v.as_ptr() as u64,
        }
    }
}

struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    _module: Arc<CudaModule>,
    functions: Vec<(&'static str, CudaFunction)>,
}

enum Backend {
    Cuda(CudaBackend),
    Host(HostModule),
}

/// The compiled kernels on one device, shared by the [`super::GpuVecEnv`]s that use it.
pub struct GpuRuntime {
    backend: Backend,
    description: String,
}

impl std::fmt::Debug for GpuRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuRuntime")
            .field("description", &self.description)
            .finish()
    }
}

fn gpu_err(e: GpuError) -> GpuEnvError {
    match e {
        GpuError::NoDriver => GpuEnvError::NoDriver,
        GpuError::Panicked(m) => GpuEnvError::Panicked(m),
        other => GpuEnvError::Driver(other.to_string()),
    }
}

fn drv(what: &str) -> impl Fn(cudarc::driver::DriverError) -> GpuEnvError + '_ {
    move |e| gpu_err(driver_err(what, e))
}

impl GpuRuntime {
    /// Compiles the kernels with NVRTC for CUDA device `ordinal` (an index of
    /// [`crate::gpu::discover`]). Fails cleanly, never panics, without a driver, a device or
    /// NVRTC (`libnvrtc.so`, from the CUDA toolkit).
    pub fn cuda(ordinal: u32) -> Result<Arc<Self>, GpuEnvError> {
        if !driver_present() {
            return Err(GpuEnvError::NoDriver);
        }
        if !crate::gpu::cuda::nvrtc_present() {
            return Err(GpuEnvError::NoNvrtc);
        }
        let rt = guarded(|| Ok(Self::cuda_inner(ordinal))).map_err(gpu_err)??;
        let rt = Arc::new(rt);
        rt.check_layout()?;
        Ok(rt)
    }

    fn cuda_inner(ordinal: u32) -> Result<GpuRuntime, GpuEnvError> {
        let ctx = CudaContext::new(ordinal as usize).map_err(drv("creating a CUDA context"))?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(drv("reading the compute capability"))?;
        let name = ctx.name().unwrap_or_else(|_| "CUDA device".into());
        let opts = cudarc::nvrtc::CompileOptions {
            fmad: Some(false),
            options: vec![
                format!("--gpu-architecture=compute_{major}{minor}"),
                "--std=c++17".into(),
            ],
            name: Some("mlgym_envs.cu".into()),
            ..Default::default()
        };
        let ptx = cudarc::nvrtc::compile_ptx_with_opts(source::module_source(), opts)
            .map_err(|e| GpuEnvError::Compile(format!("{e:?}")))?;
        let module = ctx
            .load_module(ptx)
            .map_err(drv("loading the PTX module"))?;
        let mut functions = Vec::new();
        for k in source::KERNELS {
            let f = module
                .load_function(k)
                .map_err(drv(&format!("loading kernel {k}")))?;
            functions.push((k, f));
        }
        let stream = ctx.default_stream();
        Ok(GpuRuntime {
            backend: Backend::Cuda(CudaBackend {
                ctx,
                stream,
                _module: module,
                functions,
            }),
            description: format!("CUDA device {ordinal} ({name}, sm_{major}{minor})"),
        })
    }

    /// The host emulation: the same kernel source compiled as C++ by the system compiler
    /// (`$CXX`, `c++`, `g++` or `clang++`) and run on the calling thread, one lane after
    /// another. For testing the kernels on machines without a GPU; slow.
    pub fn host_emulation() -> Result<Arc<Self>, GpuEnvError> {
        let module = HostModule::build()?;
        let description = format!("host emulation ({})", module.describe());
        let rt = Arc::new(GpuRuntime {
            backend: Backend::Host(module),
            description,
        });
        rt.check_layout()?;
        Ok(rt)
    }

    /// What this runtime runs on, for reports.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether this is the host emulation rather than a GPU.
    pub fn is_emulated(&self) -> bool {
        matches!(self.backend, Backend::Host(_))
    }

    fn check_layout(&self) -> Result<(), GpuEnvError> {
        let mut out = self.alloc(10 * 4)?;
        let mut args = KernelArgs {
            n: 1,
            flags: 0x5a5a,
            seed: 0x1234_5678_0000_0000,
            ..Default::default()
        };
        args.si[0] = out.addr();
        args.pf[11] = 1.5;
        args.pi[3] = -7;
        self.launch("mlgym_probe_layout", &args)?;
        let mut bytes = vec![0u8; 40];
        self.download(&out, &mut bytes)?;
        let got: Vec<i32> = bytes
            .chunks_exact(4)
            .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let want = expected_layout();
        let echo = [1, 0x5a5a, -7, 1.5f32.to_bits() as i32, 0x1234_5678];
        if got[..5] != want || got[5..] != echo {
            return Err(GpuEnvError::Layout(format!(
                "kernel sees (size, offsets, echoes) {got:?}, the host expects {want:?} and \
                 {echo:?}"
            )));
        }
        self.upload(&mut out, &[0u8; 40])
    }

    /// Allocates `bytes` of zeroed device memory (at least one byte).
    pub(crate) fn alloc(&self, bytes: usize) -> Result<DevBuf, GpuEnvError> {
        let bytes = bytes.max(1);
        match &self.backend {
            Backend::Cuda(c) => {
                let slice = c
                    .stream
                    .alloc_zeros::<u8>(bytes)
                    .map_err(drv("allocating device memory"))?;
                let addr = {
                    let (p, _sync) = slice.device_ptr(&c.stream);
                    p
                };
                Ok(DevBuf::Cuda(slice, addr))
            }
            Backend::Host(_) => Ok(DevBuf::Host(vec![0u64; bytes.div_ceil(8)])),
        }
    }

    /// Copies `data` to the start of `buf`.
    pub(crate) fn upload(&self, buf: &mut DevBuf, data: &[u8]) -> Result<(), GpuEnvError> {
        match (&self.backend, buf) {
            (Backend::Cuda(c), DevBuf::Cuda(slice, _)) => {
                if data.len() > slice.len() {
                    return Err(GpuEnvError::Internal(
                        "upload larger than its buffer".into(),
                    ));
                }
                let mut view = slice.slice_mut(0..data.len());
                c.stream
                    .memcpy_htod(data, &mut view)
                    .map_err(drv("copying to the device"))
            }
            (Backend::Host(_), DevBuf::Host(words)) => {
                let dst = host_bytes_mut(words);
                if data.len() > dst.len() {
                    return Err(GpuEnvError::Internal(
                        "upload larger than its buffer".into(),
                    ));
                }
                dst[..data.len()].copy_from_slice(data);
                Ok(())
            }
            _ => Err(GpuEnvError::Internal("buffer of another backend".into())),
        }
    }

    /// Copies the start of `buf` into `out` (waits for the kernels before).
    pub(crate) fn download(&self, buf: &DevBuf, out: &mut [u8]) -> Result<(), GpuEnvError> {
        match (&self.backend, buf) {
            (Backend::Cuda(c), DevBuf::Cuda(slice, _)) => {
                if out.len() > slice.len() {
                    return Err(GpuEnvError::Internal(
                        "download larger than its buffer".into(),
                    ));
                }
                let view = slice.slice(0..out.len());
                c.stream
                    .memcpy_dtoh(&view, out)
                    .map_err(drv("copying from the device"))?;
                c.stream.synchronize().map_err(drv("synchronizing"))
            }
            (Backend::Host(_), DevBuf::Host(words)) => {
                let src = host_bytes(words);
                if out.len() > src.len() {
                    return Err(GpuEnvError::Internal(
                        "download larger than its buffer".into(),
                    ));
                }
                out.copy_from_slice(&src[..out.len()]);
                Ok(())
            }
            _ => Err(GpuEnvError::Internal("buffer of another backend".into())),
        }
    }

    /// Runs `kernel` over `args.n` lanes (asynchronously on CUDA).
    pub(crate) fn launch(&self, kernel: &str, args: &KernelArgs) -> Result<(), GpuEnvError> {
        if args.n == 0 {
            return Ok(());
        }
        match &self.backend {
            Backend::Cuda(c) => {
                let f = c
                    .functions
                    .iter()
                    .find(|(k, _)| *k == kernel)
                    .map(|(_, f)| f)
                    .ok_or_else(|| GpuEnvError::Internal(format!("no kernel {kernel}")))?;
                let cfg = LaunchConfig {
                    grid_dim: (args.n.div_ceil(BLOCK), 1, 1),
                    block_dim: (BLOCK, 1, 1),
                    shared_mem_bytes: 0,
                };
                let mut b = c.stream.launch_builder(f);
                b.arg(args);
                // SAFETY: the argument block matches the kernel's parameter (checked by the
                // layout probe) and every address in it is a live allocation of this
                // context large enough for `args.n` lanes (GpuVecEnv sizes them).
                unsafe { b.launch(cfg) }
                    .map(|_| ())
                    .map_err(drv(&format!("launching {kernel}")))
            }
            Backend::Host(m) => m.run(kernel, args),
        }
    }

    /// Waits for every launched kernel.
    pub(crate) fn synchronize(&self) -> Result<(), GpuEnvError> {
        match &self.backend {
            Backend::Cuda(c) => {
                c.stream.synchronize().map_err(drv("synchronizing"))?;
                c.ctx.check_err().map_err(drv("a kernel"))
            }
            Backend::Host(_) => Ok(()),
        }
    }
}

fn host_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: u64 has no padding or invalid bit patterns; the byte view covers exactly the
    // same memory and lives as long as the borrow of `words`.
    unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, words.len() * 8) }
}

fn host_bytes_mut(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: as in `host_bytes`; every byte pattern is a valid u64.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, words.len() * 8) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_block_has_the_c_layout() {
        // 27 addresses and the seed, 4 u32, 12 f32, 4 i32.
        assert_eq!(expected_layout(), [304, 216, 224, 240, 288]);
    }
}
