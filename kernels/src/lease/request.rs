//! What a run asks for (`--gpus auto|none|any:N|LIST`) and what that means on this host.

use std::fmt;
use std::str::FromStr;

use super::LeaseError;
use crate::gpu::Inventory;

/// A GPU request as written on the command line.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum GpuRequest {
    /// `none`: no GPU.
    None,
    /// `auto`: as many GPUs as the task declares (its `gpus` in task.toml), fewer when the
    /// host has fewer, none when it has none (the run then goes on on the CPU).
    #[default]
    Auto,
    /// `any:N`: any N free GPUs; an error when the host has fewer than N.
    Any(u32),
    /// `LIST`: exactly these devices, comma-separated CUDA indices (`0,2`, as `mlgym gpus`
    /// lists them) or UUIDs (`GPU-…`).
    Devices(Vec<DeviceSelector>),
}

/// One device of a `LIST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSelector {
    /// A CUDA index.
    Index(u32),
    /// A UUID (`GPU-…`).
    Uuid(String),
}

impl fmt::Display for DeviceSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSelector::Index(i) => write!(f, "{i}"),
            DeviceSelector::Uuid(u) => f.write_str(u),
        }
    }
}

impl GpuRequest {
    /// Whether this request leases no GPU for a task that declares `task_gpus` (`none`, or
    /// `auto` for a task that declares none), whatever the host has. Callers check this
    /// before [`crate::gpu::discover`] so that the common case never asks the driver; it
    /// agrees with [`plan`], which then plans [`Want::Nothing`] on any host.
    pub fn wants_no_gpu(&self, task_gpus: u32) -> bool {
        match self {
            GpuRequest::None => true,
            GpuRequest::Auto => task_gpus == 0,
            GpuRequest::Any(_) | GpuRequest::Devices(_) => false,
        }
    }
}

impl fmt::Display for GpuRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuRequest::None => f.write_str("none"),
            GpuRequest::Auto => f.write_str("auto"),
            GpuRequest::Any(n) => write!(f, "any:{n}"),
            GpuRequest::Devices(d) => {
                let items: Vec<String> = d.iter().map(|s| s.to_string()).collect();
                f.write_str(&items.join(","))
            }
        }
    }
}

impl FromStr for GpuRequest {
    type Err = LeaseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |problem: String| LeaseError::Parse {
            value: s.to_string(),
            problem,
        };
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "none" | "" => return Ok(GpuRequest::None),
            "auto" => return Ok(GpuRequest::Auto),
            _ => {}
        }
        if let Some(n) = t.strip_prefix("any:") {
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{n}` after `any:` is not a count")))?;
            return Ok(if n == 0 {
                GpuRequest::None
            } else {
                GpuRequest::Any(n)
            });
        }
        let mut out = Vec::new();
        for item in t.split(',') {
            let item = item.trim();
            let sel = if let Ok(i) = item.parse::<u32>() {
                DeviceSelector::Index(i)
            } else if item.len() > 4 && item[..4].eq_ignore_ascii_case("gpu-") {
                DeviceSelector::Uuid(item.to_string())
            } else {
                return Err(bad(format!(
                    "`{item}` is not a GPU index or UUID; use auto, none, any:N, or a list \
                     such as 0,1 (indices from `mlgym gpus`)"
                )));
            };
            if !out.contains(&sel) {
                out.push(sel);
            }
        }
        Ok(GpuRequest::Devices(out))
    }
}

/// What to lease, resolved against an inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// Nothing.
    Nothing,
    /// Any this many free devices.
    Count(usize),
    /// Exactly these devices (CUDA indices).
    Devices(Vec<u32>),
}

/// A resolved request and, when it was scaled down, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// What to lease.
    pub want: Want,
    /// Why the run gets fewer GPUs than it asked for (`auto` only), for the user.
    pub note: Option<String>,
}

/// Lists the host's devices for error messages: `2 GPUs (0: Fake GPU 0, 1: Fake GPU 1)`.
pub(crate) fn host_summary(inv: &Inventory) -> String {
    if inv.devices.is_empty() {
        return format!(
            "no GPU ({})",
            inv.note.as_deref().unwrap_or("none was found")
        );
    }
    let items: Vec<String> = inv
        .devices
        .iter()
        .map(|d| format!("{}: {}", d.index, d.name))
        .collect();
    format!(
        "{} GPU{} ({})",
        inv.devices.len(),
        if inv.devices.len() == 1 { "" } else { "s" },
        items.join(", ")
    )
}

/// Resolves `request` against `inv`; `task_gpus` is what the task declares (for `auto`).
pub fn plan(request: &GpuRequest, task_gpus: u32, inv: &Inventory) -> Result<Plan, LeaseError> {
    let host = inv.devices.len();
    let no_gpus = || LeaseError::NoGpus {
        request: request.to_string(),
        reason: inv
            .note
            .clone()
            .unwrap_or_else(|| "no GPU was found".into()),
    };
    match request {
        GpuRequest::None => Ok(Plan {
            want: Want::Nothing,
            note: None,
        }),
        GpuRequest::Auto => {
            let want = task_gpus as usize;
            if want == 0 {
                return Ok(Plan {
                    want: Want::Nothing,
                    note: None,
                });
            }
            if host == 0 {
                return Ok(Plan {
                    want: Want::Nothing,
                    note: Some(format!(
                        "the task wants {want} GPU(s) but this host has {}; running on the CPU",
                        host_summary(inv)
                    )),
                });
            }
            Ok(Plan {
                want: Want::Count(want.min(host)),
                note: (host < want).then(|| {
                    format!(
                        "the task wants {want} GPUs but this host has {}; leasing {host}",
                        host_summary(inv)
                    )
                }),
            })
        }
        GpuRequest::Any(n) => {
            if host == 0 {
                return Err(no_gpus());
            }
            if *n as usize > host {
                return Err(LeaseError::NotEnough {
                    request: request.to_string(),
                    wanted: *n as usize,
                    host: host_summary(inv),
                });
            }
            Ok(Plan {
                want: Want::Count(*n as usize),
                note: None,
            })
        }
        GpuRequest::Devices(list) => {
            if host == 0 {
                return Err(no_gpus());
            }
            let mut out = Vec::new();
            for sel in list {
                let found = match sel {
                    DeviceSelector::Index(i) => inv.by_index(*i),
                    DeviceSelector::Uuid(u) => inv.by_uuid(u),
                };
                let Some(d) = found else {
                    return Err(LeaseError::NoSuchDevice {
                        request: request.to_string(),
                        selector: sel.to_string(),
                        host: host_summary(inv),
                    });
                };
                if !out.contains(&d.index) {
                    out.push(d.index);
                }
            }
            Ok(Plan {
                want: Want::Devices(out),
                note: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::gpu::{fake, Source};

    fn host(n: u32) -> Inventory {
        Inventory {
            devices: (0..n).map(fake::fake_device).collect(),
            source: Source::Fake,
            driver_version: None,
            note: (n == 0).then(|| "libcuda not found".to_string()),
        }
    }

    #[test]
    fn wants_no_gpu_agrees_with_plan() {
        let requests = ["none", "auto", "any:1", "0"];
        for (request, task_gpus) in requests.iter().flat_map(|r| [(*r, 0), (*r, 1)]) {
            let req: GpuRequest = request.parse().unwrap();
            for inv in [host(0), host(2)] {
                let nothing = plan(&req, task_gpus, &inv)
                    .map(|p| p.want == Want::Nothing && p.note.is_none())
                    .unwrap_or(false);
                if req.wants_no_gpu(task_gpus) {
                    assert!(nothing, "{request} with task_gpus {task_gpus}");
                }
            }
            // A request that wants GPUs gets some on a host that has them.
            let on_gpu_host = plan(&req, task_gpus, &host(2)).unwrap().want;
            assert_eq!(
                req.wants_no_gpu(task_gpus),
                on_gpu_host == Want::Nothing,
                "{request} with task_gpus {task_gpus}"
            );
        }
    }

    #[test]
    fn requests_parse_and_print_back() {
        for s in ["none", "auto", "any:2", "0,2", "GPU-abc,1"] {
            assert_eq!(s.parse::<GpuRequest>().unwrap().to_string(), s);
        }
        assert_eq!("any:0".parse::<GpuRequest>().unwrap(), GpuRequest::None);
        assert_eq!(
            "1,1".parse::<GpuRequest>().unwrap(),
            GpuRequest::Devices(vec![DeviceSelector::Index(1)])
        );
        let e = "cuda".parse::<GpuRequest>().unwrap_err().to_string();
        assert!(e.contains("any:N") && e.contains("mlgym gpus"), "{e}");
        assert!("any:x".parse::<GpuRequest>().is_err());
    }

    #[test]
    fn gpu_3_on_a_2_gpu_host_is_a_clear_error() {
        let e = plan(&"3".parse().unwrap(), 0, &host(2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("GPU 3"), "{e}");
        assert!(e.contains("2 GPUs (0: Fake GPU 0, 1: Fake GPU 1)"), "{e}");
        assert!(e.contains("any:3") || e.contains("mlgym gpus"), "{e}");
        let e = plan(&"any:3".parse().unwrap(), 0, &host(2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 GPUs") && e.contains("has 2 GPUs"), "{e}");
    }

    #[test]
    fn auto_follows_the_task_and_degrades_to_the_cpu() {
        let p = plan(&GpuRequest::Auto, 0, &host(2)).unwrap();
        assert_eq!(p.want, Want::Nothing);
        let p = plan(&GpuRequest::Auto, 1, &host(2)).unwrap();
        assert_eq!((p.want, p.note), (Want::Count(1), None));
        let p = plan(&GpuRequest::Auto, 4, &host(2)).unwrap();
        assert_eq!(p.want, Want::Count(2));
        assert!(p.note.unwrap().contains("leasing 2"));
        let p = plan(&GpuRequest::Auto, 1, &host(0)).unwrap();
        assert_eq!(p.want, Want::Nothing);
        assert!(p.note.unwrap().contains("libcuda not found"));
    }

    #[test]
    fn explicit_lists_resolve_indices_and_uuids() {
        let uuid = fake::fake_uuid(1);
        let p = plan(&format!("{uuid},0").parse().unwrap(), 0, &host(2)).unwrap();
        assert_eq!(p.want, Want::Devices(vec![1, 0]));
        let e = plan(&"0".parse().unwrap(), 0, &host(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("libcuda not found"), "{e}");
    }
}
