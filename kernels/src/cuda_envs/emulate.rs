//! The host emulation: the CUDA kernel source compiled as C++ into a shared library and
//! called lane by lane on the CPU. It checks the kernels' logic (and the argument block)
//! against the CPU environments on machines without a GPU; CUDA-specific behaviour
//! (NVRTC, the driver, CUDA's own `cosf`) is exercised only on a GPU.
//!
//! The library is cached under `$TMPDIR/mlgym-cuda-emulation/` by a hash of the source and
//! compiler flags; it is built into a private file and renamed into place, so concurrent
//! builders never see a partial library.

use std::ffi::{c_void, CString};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::exec::KernelArgs;
use super::{source, GpuEnvError};

/// Flags for the host compiler: C++17, optimised, and no contraction of `a*b+c` (the
/// kernels spell every fused operation out).
const FLAGS: [&str; 6] = [
    "-std=c++17",
    "-O2",
    "-ffp-contract=off",
    "-fno-fast-math",
    "-fPIC",
    "-shared",
];

type KernelFn = unsafe extern "C" fn(*const KernelArgs);

/// The loaded emulation library.
pub(crate) struct HostModule {
    handle: *mut c_void,
    kernels: Vec<(&'static str, KernelFn)>,
    compiler: String,
    path: PathBuf,
}

// SAFETY: the library handle and its function pointers may be used from any thread; each
// emulated kernel touches only the memory its argument block points to, which the caller
// owns (GpuVecEnv serialises its own launches through `&mut self`).
unsafe impl Send for HostModule {}
// SAFETY: see `Send`; the module itself is never mutated after loading.
unsafe impl Sync for HostModule {}

fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn compilers() -> Vec<String> {
    let mut c = Vec::new();
    if let Ok(cxx) = std::env::var("CXX") {
        if !cxx.trim().is_empty() {
            c.push(cxx);
        }
    }
    c.extend(["c++", "g++", "clang++"].map(String::from));
    c
}

fn compile(src: &str, out: &Path) -> Result<String, GpuEnvError> {
    let dir = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| GpuEnvError::HostCompile {
        compiler: String::new(),
        log: format!("creating {}: {e}", dir.display()),
    })?;
    static BUILDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tag = format!("{}-{n}", std::process::id());
    let cpp = dir.join(format!("build-{tag}.cpp"));
    let tmp = dir.join(format!("build-{tag}.so"));
    std::fs::write(&cpp, src).map_err(|e| GpuEnvError::HostCompile {
        compiler: String::new(),
        log: format!("writing {}: {e}", cpp.display()),
    })?;
    let mut tried = Vec::new();
    let mut result = Err(GpuEnvError::NoHostCompiler(String::new()));
    for cc in compilers() {
        let run = Command::new(&cc)
            .args(FLAGS)
            .arg("-o")
            .arg(&tmp)
            .arg(&cpp)
            .output();
        match run {
            Err(_) => tried.push(cc),
            Ok(o) if o.status.success() => {
                result = std::fs::rename(&tmp, out).map(|_| cc.clone()).map_err(|e| {
                    GpuEnvError::HostCompile {
                        compiler: cc.clone(),
                        log: format!("renaming into {}: {e}", out.display()),
                    }
                });
                break;
            }
            Ok(o) => {
                result = Err(GpuEnvError::HostCompile {
                    compiler: cc.clone(),
                    log: String::from_utf8_lossy(&o.stderr).into_owned(),
                });
                break;
            }
        }
    }
    let _ = std::fs::remove_file(&cpp);
    let _ = std::fs::remove_file(&tmp);
    match result {
        Err(GpuEnvError::NoHostCompiler(_)) => Err(GpuEnvError::NoHostCompiler(tried.join(", "))),
        other => other,
    }
}

fn dl_error() -> String {
    // SAFETY: dlerror returns a thread-local C string or null.
    let p = unsafe { libc::dlerror() };
    if p.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: non-null dlerror results are valid C strings.
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned()
    }
}

impl HostModule {
    /// Builds (or reuses) the emulation library and loads it.
    pub(crate) fn build() -> Result<HostModule, GpuEnvError> {
        let src = source::host_source();
        let key = fnv1a(&[&src, &FLAGS.join(" "), &compilers().join(",")]);
        let dir = std::env::temp_dir().join("mlgym-cuda-emulation");
        let path = dir.join(format!("envs-{key:016x}.so"));
        let compiler = if path.exists() {
            "cached".to_string()
        } else {
            compile(&src, &path)?
        };
        let load_err = |message: String| GpuEnvError::Load {
            path: path.clone(),
            message,
        };
        let c_path = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| load_err("path contains a NUL byte".into()))?;
        // SAFETY: dlopen of a library we just built from our own source; its initialisers
        // are the C++ runtime's.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(load_err(dl_error()));
        }
        let mut kernels = Vec::new();
        for k in source::KERNELS {
            let name = CString::new(k).map_err(|_| load_err(format!("bad kernel name {k}")))?;
            // SAFETY: a valid handle and C string.
            let sym = unsafe { libc::dlsym(handle, name.as_ptr()) };
            if sym.is_null() {
                return Err(load_err(format!("kernel {k} missing: {}", dl_error())));
            }
            // SAFETY: every kernel is exported by MLGYM_KERNEL as
            // `extern "C" void name(const MlgymEnvArgs*)`.
            let f: KernelFn = unsafe { std::mem::transmute::<*mut c_void, KernelFn>(sym) };
            kernels.push((k, f));
        }
        Ok(HostModule {
            handle,
            kernels,
            compiler,
            path,
        })
    }

    /// `compiler, library path`.
    pub(crate) fn describe(&self) -> String {
        format!("{}, {}", self.compiler, self.path.display())
    }

    /// Runs `kernel` over every lane of `args`.
    pub(crate) fn run(&self, kernel: &str, args: &KernelArgs) -> Result<(), GpuEnvError> {
        let f = self
            .kernels
            .iter()
            .find(|(k, _)| *k == kernel)
            .map(|(_, f)| *f)
            .ok_or_else(|| GpuEnvError::Internal(format!("no kernel {kernel}")))?;
        // SAFETY: `args` is a valid block whose addresses point to live host buffers sized
        // for `args.n` lanes (the caller's contract, as for a CUDA launch).
        unsafe { f(args) };
        Ok(())
    }
}

impl Drop for HostModule {
    fn drop(&mut self) {
        // SAFETY: the handle came from dlopen and no kernel runs once the module is dropped.
        unsafe { libc::dlclose(self.handle) };
    }
}
