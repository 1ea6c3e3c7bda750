//! Discovery through the CUDA driver API (cudarc, libcuda loaded at run time).

use std::panic::{catch_unwind, AssertUnwindSafe};

use cudarc::driver::result::{self, DriverError};
use cudarc::driver::sys::{self, CUdevice_attribute};
use cudarc::driver::CudaContext;

use super::{parse_device_minor, ComputeCapability, GpuDevice, GpuError, Inventory, Source};

/// Runs `f`, turning a cudarc panic (missing library or symbol) into an error.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, GpuError>) -> Result<T, GpuError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "cudarc panicked".into());
            Err(GpuError::Panicked(msg))
        }
    }
}

/// Whether libcuda can be loaded (the check that must precede every other cudarc call).
#[cfg(not(feature = "linked-cuda"))]
pub(crate) fn driver_present() -> bool {
    // SAFETY: only tries to dlopen libcuda under its usual names.
    unsafe { sys::is_culib_present() }
}

/// Whether libcuda can be loaded: always, when it is linked (feature `linked-cuda`, the
/// `cuda` build), since the process could not have started without it.
#[cfg(feature = "linked-cuda")]
pub(crate) fn driver_present() -> bool {
    true
}

/// Whether libnvrtc (from the CUDA toolkit) can be loaded.
#[cfg(not(feature = "linked-cuda"))]
pub(crate) fn nvrtc_present() -> bool {
    // SAFETY: only tries to dlopen libnvrtc.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Whether libnvrtc can be loaded: always, when it is linked (feature `linked-cuda`).
#[cfg(feature = "linked-cuda")]
pub(crate) fn nvrtc_present() -> bool {
    true
}

/// Describes a driver error with its name and text.
pub(crate) fn driver_err(what: &str, e: DriverError) -> GpuError {
    let name = e
        .error_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("{:?}", e.0));
    let text = e
        .error_string()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    GpuError::Driver {
        what: what.to_string(),
        message: if text.is_empty() {
            name
        } else {
            format!("{name} ({text})")
        },
    }
}

/// The inventory the driver reports; empty with a reason when there is no driver or GPU.
pub(crate) fn discover() -> Inventory {
    if !driver_present() {
        return Inventory::empty(Source::Cuda, GpuError::NoDriver.to_string());
    }
    match guarded(discover_inner) {
        Ok(inv) => inv,
        Err(e) => Inventory::empty(Source::Cuda, e.to_string()),
    }
}

fn discover_inner() -> Result<Inventory, GpuError> {
    let count = match CudaContext::device_count() {
        Ok(n) => n,
        Err(e) => {
            let err = driver_err("cuInit", e);
            let no_device = e.0 == sys::CUresult::CUDA_ERROR_NO_DEVICE;
            let mut inv = Inventory::empty(Source::Cuda, err.to_string());
            if no_device {
                inv.note = Some(format!(
                    "the NVIDIA driver is installed but reports no GPU ({err}); check \
                     CUDA_VISIBLE_DEVICES={}",
                    std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_else(|_| "<unset>".into())
                ));
            }
            return Ok(inv);
        }
    };
    let mut devices = Vec::new();
    for ordinal in 0..count.max(0) {
        devices.push(query(ordinal)?);
    }
    let note = devices.is_empty().then(|| {
        "the NVIDIA driver reports 0 GPUs (check CUDA_VISIBLE_DEVICES and nvidia-smi)".to_string()
    });
    Ok(Inventory {
        devices,
        source: Source::Cuda,
        driver_version: driver_version(),
        note,
    })
}

fn driver_version() -> Option<String> {
    let mut v: std::ffi::c_int = 0;
    // SAFETY: cuDriverGetVersion writes one int.
    let r = unsafe { sys::cuDriverGetVersion(&mut v) };
    (r == sys::CUresult::CUDA_SUCCESS).then(|| format!("{}.{}", v / 1000, (v % 1000) / 10))
}

fn attr(dev: sys::CUdevice, a: CUdevice_attribute, what: &str) -> Result<i32, GpuError> {
    // SAFETY: a valid device handle and a valid attribute.
    unsafe { result::device::get_attribute(dev, a) }.map_err(|e| driver_err(what, e))
}

/// Formats a CUDA UUID as nvidia-smi does: `GPU-` then 8-4-4-4-12 hex digits.
pub(crate) fn format_uuid(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "GPU-{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn query(ordinal: i32) -> Result<GpuDevice, GpuError> {
    let dev = result::device::get(ordinal).map_err(|e| driver_err("cuDeviceGet", e))?;
    let name = result::device::get_name(dev).map_err(|e| driver_err("cuDeviceGetName", e))?;
    let mut uuid = sys::CUuuid { bytes: [0; 16] };
    // SAFETY: writes 16 bytes into `uuid`.
    unsafe { sys::cuDeviceGetUuid_v2(&mut uuid, dev) }
        .result()
        .map_err(|e| driver_err("cuDeviceGetUuid", e))?;
    let bytes: [u8; 16] = uuid.bytes.map(|b| b as u8);
    // SAFETY: a valid device handle.
    let total =
        unsafe { result::device::total_mem(dev) }.map_err(|e| driver_err("cuDeviceTotalMem", e))?;
    use CUdevice_attribute::*;
    let cc = ComputeCapability {
        major: attr(
            dev,
            CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
            "compute capability",
        )? as u32,
        minor: attr(
            dev,
            CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
            "compute capability",
        )? as u32,
    };
    let pci = (|| -> Result<String, GpuError> {
        Ok(format!(
            "{:04x}:{:02x}:{:02x}.0",
            attr(dev, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, "PCI domain")?,
            attr(dev, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, "PCI bus")?,
            attr(dev, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, "PCI device")?
        ))
    })()
    .ok();
    let minor = pci.as_deref().and_then(device_minor);
    let (memory_free, note) = match free_memory(ordinal as u32) {
        Ok(free) => (Some(free), None),
        Err(e) => (None, Some(format!("free memory unknown: {e}"))),
    };
    Ok(GpuDevice {
        index: ordinal as u32,
        uuid: format_uuid(&bytes),
        name,
        memory_total: total as u64,
        memory_free,
        compute_capability: cc,
        pci_bus_id: pci,
        minor,
        note,
    })
}

/// The device-node number of the GPU at PCI address `pci`, from the NVIDIA kernel module.
fn device_minor(pci: &str) -> Option<u32> {
    let dir = std::fs::read_dir("/proc/driver/nvidia/gpus").ok()?;
    for entry in dir.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().eq_ignore_ascii_case(pci) {
            let info = std::fs::read_to_string(entry.path().join("information")).ok()?;
            return parse_device_minor(&info);
        }
    }
    None
}

/// Free memory of CUDA device `ordinal` in bytes (opens, then releases, its primary context).
pub(crate) fn free_memory(ordinal: u32) -> Result<u64, GpuError> {
    if !driver_present() {
        return Err(GpuError::NoDriver);
    }
    guarded(|| {
        let ctx = CudaContext::new(ordinal as usize)
            .map_err(|e| driver_err(&format!("creating a context on GPU {ordinal}"), e))?;
        let (free, _total) = ctx
            .mem_get_info()
            .map_err(|e| driver_err("cuMemGetInfo", e))?;
        Ok(free as u64)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn uuid_is_formatted_like_nvidia_smi() {
        let b: [u8; 16] = [
            0x8f, 0x3c, 0x1a, 0x22, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
            0x0b, 0xff,
        ];
        assert_eq!(format_uuid(&b), "GPU-8f3c1a22-0102-0304-0506-0708090a0bff");
    }

    #[test]
    fn discovery_without_a_driver_is_empty_with_a_reason() {
        if driver_present() {
            eprintln!("skipped: libcuda is present on this machine");
            return;
        }
        let inv = discover();
        assert!(inv.devices.is_empty());
        let note = inv.note.unwrap();
        assert!(note.contains("libcuda"), "{note}");
        assert!(matches!(free_memory(0), Err(GpuError::NoDriver)));
    }
}
