//! The fake device list of `MLGYM_FAKE_GPUS`, **for tests only**.
//!
//! Two forms:
//! * a count, `MLGYM_FAKE_GPUS=2`: devices 0..N named `Fake GPU <i>`, 80 GiB each with
//!   79 GiB free, compute capability 9.0, device node `nvidia<i>`, UUID
//!   `GPU-fa4e0000-0000-4000-8000-<i as 12 hex digits>`;
//! * a path to a JSON file holding an array of objects, one per device in index order, every
//!   field optional: `{"name": "...", "uuid": "GPU-...", "memory_total_mib": 81920,
//!   "memory_free_mib": 1024, "compute_capability": "9.0", "minor": 3}`. Missing fields
//!   take the count form's values, so `[{}, {"memory_free_mib": 100}]` is two devices of
//!   which the second is nearly full (a device another program is using).
//!
//! Fake devices exist so that leases, `mlgym gpus` and `mlgym run --gpus` can be tested on
//! machines without a GPU. They cannot run CUDA code.

use serde::Deserialize;

use super::{ComputeCapability, GpuDevice, GpuError, FAKE_GPUS_ENV};

const MIB: u64 = 1 << 20;
/// Most fake devices a count may ask for.
pub const MAX_FAKE: usize = 64;

/// The UUID of fake device `i`.
pub fn fake_uuid(i: u32) -> String {
    format!("GPU-fa4e0000-0000-4000-8000-{i:012x}")
}

/// Fake device `i` with the count form's values.
pub fn fake_device(i: u32) -> GpuDevice {
    GpuDevice {
        index: i,
        uuid: fake_uuid(i),
        name: format!("Fake GPU {i}"),
        memory_total: 80 * 1024 * MIB,
        memory_free: Some(79 * 1024 * MIB),
        compute_capability: ComputeCapability { major: 9, minor: 0 },
        pci_bus_id: None,
        minor: Some(i),
        note: None,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FakeEntry {
    name: Option<String>,
    uuid: Option<String>,
    memory_total_mib: Option<u64>,
    memory_free_mib: Option<u64>,
    compute_capability: Option<String>,
    minor: Option<u32>,
}

/// Parses the value of `MLGYM_FAKE_GPUS` (see the module docs).
pub fn parse(spec: &str) -> Result<Vec<GpuDevice>, GpuError> {
    let err = |problem: String| GpuError::Fake {
        spec: spec.to_string(),
        problem,
    };
    let trimmed = spec.trim();
    if let Ok(n) = trimmed.parse::<usize>() {
        if n > MAX_FAKE {
            return Err(err(format!("at most {MAX_FAKE} fake devices")));
        }
        return Ok((0..n as u32).map(fake_device).collect());
    }
    let text = std::fs::read_to_string(trimmed).map_err(|e| {
        err(format!(
            "neither a device count nor a readable JSON file ({e}); use e.g. \
             {FAKE_GPUS_ENV}=2 (tests only)"
        ))
    })?;
    let entries: Vec<FakeEntry> = serde_json::from_str(&text)
        .map_err(|e| err(format!("not a JSON array of fake devices: {e}")))?;
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.into_iter().enumerate() {
        let mut d = fake_device(i as u32);
        if let Some(n) = e.name {
            d.name = n;
        }
        if let Some(u) = e.uuid {
            d.uuid = u;
        }
        if let Some(t) = e.memory_total_mib {
            d.memory_total = t.saturating_mul(MIB);
            d.memory_free = Some(d.memory_total);
        }
        if let Some(f) = e.memory_free_mib {
            d.memory_free = Some(f.saturating_mul(MIB));
        }
        if let Some(cc) = e.compute_capability {
            let parsed = cc
                .split_once('.')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
            let Some((major, minor)) = parsed else {
                return Err(err(format!(
                    "device {i}: compute_capability `{cc}` is not like \"9.0\""
                )));
            };
            d.compute_capability = ComputeCapability { major, minor };
        }
        if let Some(m) = e.minor {
            d.minor = Some(m);
        }
        out.push(d);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_count_gives_that_many_distinct_devices() {
        let d = parse("3").unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[2].index, 2);
        assert_eq!(d[2].minor, Some(2));
        assert_ne!(d[0].uuid, d[1].uuid);
        assert!(parse("0").unwrap().is_empty());
        assert!(parse("1000").is_err());
    }

    #[test]
    fn a_json_file_overrides_fields() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gpus.json");
        std::fs::write(
            &p,
            r#"[{}, {"name": "Busy", "memory_total_mib": 1000, "memory_free_mib": 10,
                "compute_capability": "8.6", "minor": 7}]"#,
        )
        .unwrap();
        let d = parse(p.to_str().unwrap()).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "Fake GPU 0");
        assert_eq!(d[1].name, "Busy");
        assert_eq!(d[1].memory_free, Some(10 * MIB));
        assert_eq!(d[1].compute_capability.to_string(), "8.6");
        assert_eq!(d[1].minor, Some(7));
    }

    #[test]
    fn malformed_specs_say_what_to_do() {
        let e = parse("two").unwrap_err().to_string();
        assert!(
            e.contains("MLGYM_FAKE_GPUS=two") && e.contains("device count"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        std::fs::write(&p, r#"[{"colour": "red"}]"#).unwrap();
        let e = parse(p.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
    }
}
