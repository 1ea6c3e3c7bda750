//! GPU discovery: the NVIDIA GPUs this process can use, found through cudarc's driver API.
//!
//! libcuda is loaded at run time (cudarc's `dynamic-loading`), so everything builds and runs
//! on a machine without CUDA. [`discover`] never panics and never fails: without a driver or
//! a GPU it returns an empty [`Inventory`] whose `note` says why. cudarc panics when libcuda
//! is missing, so `is_culib_present()` is checked before any other call, and every driver
//! call runs under `catch_unwind` in case the installed driver lacks a symbol.
//!
//! Identity: a device's `index` is its CUDA ordinal *in this process* (it depends on
//! `CUDA_VISIBLE_DEVICES` and `CUDA_DEVICE_ORDER`); its `uuid` is stable, so leases and the
//! sandbox name devices by UUID. `minor` is the NVIDIA device-node number (`/dev/nvidiaN`),
//! read from `/proc/driver/nvidia/gpus/<pci>/information`; the sandbox exposes that node.
//!
//! **Fake devices, for tests only:** when `MLGYM_FAKE_GPUS` is set, [`discover`] returns a
//! made-up list instead of asking the driver: `MLGYM_FAKE_GPUS=2` gives two 80 GiB devices,
//! `MLGYM_FAKE_GPUS=/path/devices.json` reads a list (see [`fake`]). Leases, `mlgym gpus`
//! and `mlgym run --gpus` then work on a machine without a GPU, which is how the lease tests
//! run. Fake devices cannot run kernels, and the CLI labels them as fake wherever it shows
//! them.

pub(crate) mod cuda;
pub mod fake;

use serde::{Deserialize, Serialize};

/// The environment variable that replaces discovery by a fake device list (tests only).
pub const FAKE_GPUS_ENV: &str = "MLGYM_FAKE_GPUS";

/// A compute capability such as 9.0 (H100).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ComputeCapability {
    /// Major version (9 for Hopper).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl std::fmt::Display for ComputeCapability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// One GPU as discovery saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuDevice {
    /// CUDA ordinal in this process (what `CudaContext::new` takes).
    pub index: u32,
    /// Stable identity, `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` as nvidia-smi prints it.
    pub uuid: String,
    /// Product name, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    /// Total memory in bytes.
    pub memory_total: u64,
    /// Free memory in bytes when discovered; `None` when it could not be measured.
    pub memory_free: Option<u64>,
    /// Compute capability.
    pub compute_capability: ComputeCapability,
    /// PCI address (`0000:3b:00.0`), when known.
    pub pci_bus_id: Option<String>,
    /// NVIDIA device-node number (`/dev/nvidia<minor>`), when known.
    pub minor: Option<u32>,
    /// Anything that went wrong while querying this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl GpuDevice {
    /// `GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-…)`, the form `nvidia-smi -L` prints; this is
    /// what `run.json` records.
    pub fn label(&self) -> String {
        format!("GPU {}: {} (UUID: {})", self.index, self.name, self.uuid)
    }

    /// Free memory as a fraction of the total, when known.
    pub fn free_fraction(&self) -> Option<f64> {
        match (self.memory_free, self.memory_total) {
            (Some(free), total) if total > 0 => Some(free as f64 / total as f64),
            _ => None,
        }
    }
}

/// Where an inventory came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The CUDA driver.
    Cuda,
    /// `MLGYM_FAKE_GPUS` (tests only).
    Fake,
}

/// The GPUs of this host, or why there are none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The devices, by index.
    pub devices: Vec<GpuDevice>,
    /// Where the list came from.
    pub source: Source,
    /// The driver's CUDA version (`12.8`), when a driver answered.
    pub driver_version: Option<String>,
    /// Why the list is empty (or incomplete), in words a user can act on.
    pub note: Option<String>,
}

impl Inventory {
    /// An inventory with no devices and the reason.
    pub fn empty(source: Source, note: impl Into<String>) -> Self {
        Inventory {
            devices: Vec::new(),
            source,
            driver_version: None,
            note: Some(note.into()),
        }
    }

    /// Whether this is a fake list from `MLGYM_FAKE_GPUS`.
    pub fn is_fake(&self) -> bool {
        self.source == Source::Fake
    }

    /// The device with CUDA ordinal `index`.
    pub fn by_index(&self, index: u32) -> Option<&GpuDevice> {
        self.devices.iter().find(|d| d.index == index)
    }

    /// The device with this UUID (case-insensitive, with or without the `GPU-` prefix).
    pub fn by_uuid(&self, uuid: &str) -> Option<&GpuDevice> {
        let want = normalize_uuid(uuid);
        self.devices
            .iter()
            .find(|d| normalize_uuid(&d.uuid) == want)
    }

    /// Measures `device`'s free memory now (fake devices report their listed value).
    pub fn free_memory_now(&self, device: &GpuDevice) -> Result<Option<u64>, GpuError> {
        match self.source {
            Source::Fake => Ok(device.memory_free),
            Source::Cuda => cuda::free_memory(device.index).map(Some),
        }
    }
}

fn normalize_uuid(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    s.strip_prefix("gpu-").unwrap_or(&s).to_string()
}

/// What went wrong talking to the driver (discovery turns these into `Inventory::note`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuError {
    /// libcuda could not be loaded.
    #[error(
        "no NVIDIA driver: libcuda.so could not be loaded (install the NVIDIA driver, or add \
         its directory to LD_LIBRARY_PATH)"
    )]
    NoDriver,
    /// A driver call failed.
    #[error("CUDA driver: {what} failed: {message}")]
    Driver {
        /// The call, e.g. `cuInit`.
        what: String,
        /// The driver's error name and text.
        message: String,
    },
    /// cudarc panicked (typically a symbol missing from an old driver).
    #[error(
        "CUDA driver: {0} (is the driver older than CUDA 12.8? update it, or run without GPUs)"
    )]
    Panicked(String),
    /// `MLGYM_FAKE_GPUS` is malformed.
    #[error("{FAKE_GPUS_ENV}={spec}: {problem}")]
    Fake {
        /// The variable's value.
        spec: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// The GPUs of this host. Honours `MLGYM_FAKE_GPUS` (tests only, see the module docs); asks
/// the CUDA driver otherwise. Never panics: without a driver or a GPU the list is empty and
/// `note` says why.
pub fn discover() -> Inventory {
    match std::env::var(FAKE_GPUS_ENV) {
        Ok(spec) if !spec.trim().is_empty() => match fake::parse(&spec) {
            Ok(devices) => Inventory {
                note: devices
                    .is_empty()
                    .then(|| format!("{FAKE_GPUS_ENV}={spec} lists no devices")),
                devices,
                source: Source::Fake,
                driver_version: None,
            },
            Err(e) => Inventory::empty(Source::Fake, e.to_string()),
        },
        _ => discover_cuda(),
    }
}

/// The GPUs the CUDA driver reports, ignoring `MLGYM_FAKE_GPUS`.
pub fn discover_cuda() -> Inventory {
    cuda::discover()
}

/// What a sandbox needs to see exactly some devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxGpus {
    /// Device-node numbers to expose (`/dev/nvidia<minor>`), for `SandboxSpec::gpus`.
    pub minors: Vec<u32>,
    /// The value of `CUDA_VISIBLE_DEVICES` inside: the UUIDs, comma-separated. UUIDs name
    /// the same devices whatever order or subset the driver enumerates inside the sandbox
    /// (where the other device nodes are absent).
    pub cuda_visible_devices: String,
}

/// The sandbox view of `devices`. Fails when a device's node number is unknown, since
/// exposing a guessed node could hand the sandbox a GPU that someone else leased.
pub fn sandbox_view(devices: &[GpuDevice]) -> Result<SandboxGpus, GpuError> {
    let mut minors = Vec::with_capacity(devices.len());
    for d in devices {
        match d.minor {
            Some(m) => minors.push(m),
            None => {
                return Err(GpuError::Driver {
                    what: format!("finding the device node of {}", d.label()),
                    message: format!(
                        "no `Device Minor` in /proc/driver/nvidia/gpus/{}/information; is the \
                         NVIDIA kernel module loaded?",
                        d.pci_bus_id.as_deref().unwrap_or("<unknown PCI address>")
                    ),
                })
            }
        }
    }
    Ok(SandboxGpus {
        minors,
        cuda_visible_devices: devices
            .iter()
            .map(|d| d.uuid.as_str())
            .collect::<Vec<_>>()
            .join(","),
    })
}

/// Parses the `information` file of `/proc/driver/nvidia/gpus/<pci>/`: its `Device Minor`.
pub fn parse_device_minor(information: &str) -> Option<u32> {
    information.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "Device Minor")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn dev(index: u32, minor: Option<u32>) -> GpuDevice {
        GpuDevice {
            index,
            uuid: format!("GPU-0000000{index}-0000-0000-0000-000000000000"),
            name: "Test".into(),
            memory_total: 100,
            memory_free: Some(40),
            compute_capability: ComputeCapability { major: 9, minor: 0 },
            pci_bus_id: Some("0000:3b:00.0".into()),
            minor,
            note: None,
        }
    }

    #[test]
    fn device_minor_is_read_from_the_proc_information_file() {
        let info = "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 255\nGPU UUID: \t GPU-abc\n\
                    Video BIOS: \t 96.00.99.00.01\nBus Type: \t PCIe\nDMA Size: \t 52 bits\n\
                    DMA Mask: \t 0xfffffffffffff\nBus Location: \t 0000:3b:00.0\nDevice Minor: \t 3\n";
        assert_eq!(parse_device_minor(info), Some(3));
        assert_eq!(parse_device_minor("Model: x\n"), None);
    }

    #[test]
    fn sandbox_view_uses_minors_for_nodes_and_uuids_for_cuda() {
        let v = sandbox_view(&[dev(0, Some(2)), dev(1, Some(0))]).unwrap();
        assert_eq!(v.minors, vec![2, 0]);
        assert_eq!(
            v.cuda_visible_devices,
            "GPU-00000000-0000-0000-0000-000000000000,GPU-00000001-0000-0000-0000-000000000000"
        );
        let err = sandbox_view(&[dev(0, None)]).unwrap_err().to_string();
        assert!(
            err.contains("Device Minor") && err.contains("0000:3b:00.0"),
            "{err}"
        );
    }

    #[test]
    fn uuid_lookup_ignores_case_and_prefix() {
        let inv = Inventory {
            devices: vec![dev(0, Some(0)), dev(1, Some(1))],
            source: Source::Fake,
            driver_version: None,
            note: None,
        };
        let u = "00000001-0000-0000-0000-000000000000";
        assert_eq!(inv.by_uuid(u).unwrap().index, 1);
        assert_eq!(inv.by_uuid(&format!("gpu-{u}")).unwrap().index, 1);
        assert!(inv.by_uuid("GPU-ffff").is_none());
        assert_eq!(dev(1, None).free_fraction(), Some(0.4));
        assert_eq!(
            dev(0, None).label(),
            "GPU 0: Test (UUID: GPU-00000000-0000-0000-0000-000000000000)"
        );
    }
}
