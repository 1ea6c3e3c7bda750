//! GPU leases across real processes, on a fake 2-GPU host (`MLGYM_FAKE_GPUS=2`).
//!
//! The holders are this test binary re-executed (`lease_holder_child`, which does nothing
//! unless `MLGYM_TEST_LEASE_ROLE` is set). They append events to a shared log with
//! `O_APPEND` (one write per line), and while holding a GPU each one also owns a marker
//! file created with `O_EXCL`, so a second holder of the same GPU would be caught in the act
//! as well as in the log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mlgym_kernels::gpu::{self, fake};
use mlgym_kernels::lease::{self, GpuRequest, LeaseOptions, LeaseState};

const ROLE: &str = "MLGYM_TEST_LEASE_ROLE";
const DEADLINE: Duration = Duration::from_secs(120);

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_default()
}

fn log_line(path: &Path, line: &str) {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn options(dir: &Path, wait: Duration) -> LeaseOptions {
    LeaseOptions {
        dir: dir.to_path_buf(),
        wait,
        poll: Duration::from_millis(1),
        ..LeaseOptions::new(format!("test holder {}", std::process::id()))
    }
}

/// The holder process (see the module docs). Roles: `cycle` leases and releases
/// `MLGYM_TEST_CYCLES` times; `hold` leases once and holds until killed; `plan` logs the
/// outcome of planning `MLGYM_TEST_REQUEST` against the discovered (fake) host.
#[test]
fn lease_holder_child() {
    let role = env(ROLE);
    if role.is_empty() {
        return;
    }
    let dir = PathBuf::from(env("MLGYM_LEASE_DIR"));
    let log = PathBuf::from(env("MLGYM_TEST_LOG"));
    let id = env("MLGYM_TEST_ID");
    let request: GpuRequest = env("MLGYM_TEST_REQUEST").parse().unwrap();
    let inv = gpu::discover();
    assert!(inv.is_fake(), "the holder must run on the fake list");
    let plan = match lease::plan(&request, 0, &inv) {
        Ok(p) => p,
        Err(e) => {
            log_line(&log, &format!("planerr {id} {e}"));
            return;
        }
    };
    if role == "plan" {
        log_line(&log, &format!("planned {id} {:?}", plan.want));
        return;
    }
    // Start barrier: every holder begins together, so they really contend.
    let go = dir.join("go");
    let t0 = Instant::now();
    while !go.exists() {
        assert!(t0.elapsed() < DEADLINE, "no start signal");
        std::thread::sleep(Duration::from_millis(1));
    }
    if role == "hold" {
        let wait = Duration::from_secs(env("MLGYM_TEST_WAIT_S").parse().unwrap_or(0));
        let l = lease::acquire(&inv, &plan.want, &request, &options(&dir, wait)).unwrap();
        for d in l.devices() {
            log_line(
                &log,
                &format!("held {id} {} {}", d.uuid, std::process::id()),
            );
        }
        // Hold until killed: the parent keeps our stdin open and never writes to it.
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
        return;
    }
    let cycles: usize = env("MLGYM_TEST_CYCLES").parse().unwrap();
    let mut done = 0;
    while done < cycles {
        let l = match lease::acquire(&inv, &plan.want, &request, &options(&dir, Duration::ZERO)) {
            Ok(l) => l,
            Err(lease::LeaseError::Busy { .. }) => {
                log_line(&log, &format!("busy {id}"));
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        for d in l.devices() {
            let marker = dir.join(format!("owner-{}", d.uuid));
            if OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&marker)
                .is_err()
            {
                log_line(&log, &format!("OVERLAP {id} {}", d.uuid));
            }
            log_line(&log, &format!("acq {} {id} {done}", d.uuid));
        }
        // Hold the GPU a moment so that the other holders find it busy.
        std::thread::sleep(Duration::from_millis(2));
        for d in l.devices() {
            log_line(&log, &format!("rel {} {id} {done}", d.uuid));
            std::fs::remove_file(dir.join(format!("owner-{}", d.uuid))).unwrap();
        }
        drop(l);
        done += 1;
    }
    log_line(&log, &format!("finished {id}"));
}

struct Holders {
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Holders {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("events.log");
        std::fs::write(&log, "").unwrap();
        Holders { dir, log }
    }

    fn spawn(&self, role: &str, id: &str, request: &str, extra: &[(&str, &str)]) -> Child {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.args([
            "lease_holder_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(gpu::FAKE_GPUS_ENV, "2")
        .env(lease::LEASE_DIR_ENV, self.dir.path())
        .env("MLGYM_TEST_LOG", &self.log)
        .env("MLGYM_TEST_ID", id)
        .env("MLGYM_TEST_REQUEST", request)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        for (k, v) in extra {
            c.env(k, v);
        }
        c.spawn().unwrap()
    }

    fn go(&self) {
        std::fs::write(self.dir.path().join("go"), "").unwrap();
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Polls the log until a line starts with `prefix` (deadline: [`DEADLINE`]).
    fn wait_for(&self, prefix: &str) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| l.starts_with(prefix)) {
                return l;
            }
            assert!(t0.elapsed() < DEADLINE, "no `{prefix}` in the log");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(t0.elapsed() < DEADLINE, "a holder did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn two_fake_gpus() -> gpu::Inventory {
    gpu::Inventory {
        devices: fake::parse("2").unwrap(),
        source: gpu::Source::Fake,
        driver_version: None,
        note: None,
    }
}

#[test]
fn concurrent_processes_never_share_a_gpu() {
    let h = Holders::new();
    let (procs, cycles) = (6, 15);
    let mut children: Vec<Child> = (0..procs)
        .map(|i| {
            h.spawn(
                "cycle",
                &format!("p{i}"),
                "any:1",
                &[("MLGYM_TEST_CYCLES", &cycles.to_string())],
            )
        })
        .collect();
    h.go();
    for c in &mut children {
        assert!(wait_exit(c).success());
    }
    let lines = h.lines();
    assert!(!lines.iter().any(|l| l.starts_with("OVERLAP")), "{lines:?}");
    // Per GPU, the log must alternate acquire/release by the same holder and cycle.
    let mut open: HashMap<String, String> = HashMap::new();
    let (mut acquisitions, mut busy, mut max_held) = (0, 0, 0);
    let mut used = std::collections::HashSet::new();
    for l in &lines {
        let f: Vec<&str> = l.split(' ').collect();
        match f[0] {
            "acq" => {
                let who = format!("{} {}", f[2], f[3]);
                assert!(
                    open.insert(f[1].to_string(), who).is_none(),
                    "{} acquired while held: {l}",
                    f[1]
                );
                used.insert(f[1].to_string());
                acquisitions += 1;
                max_held = max_held.max(open.len());
            }
            "rel" => {
                let who = open.remove(f[1]).expect("release without acquire");
                assert_eq!(who, format!("{} {}", f[2], f[3]));
            }
            "busy" => busy += 1,
            "finished" => {}
            other => panic!("unexpected log line {other}: {l}"),
        }
    }
    assert_eq!(acquisitions, procs * cycles);
    assert!(open.is_empty());
    assert!(max_held <= 2);
    eprintln!(
        "{acquisitions} leases by {procs} processes on 2 GPUs: {busy} busy retries, up to \
         {max_held} held at once, GPUs used: {}",
        used.len()
    );
    assert!(busy > 0, "the holders never contended");
    assert_eq!(used.len(), 2, "both GPUs must have been used");
}

#[test]
fn a_killed_holders_gpu_becomes_available() {
    let h = Holders::new();
    let inv = two_fake_gpus();
    let mut a = h.spawn("hold", "a", "0", &[]);
    h.go();
    let held = h.wait_for("held a ");
    let pid_a = a.id();
    assert!(held.ends_with(&format!(" {pid_a}")), "{held}");
    // The parent cannot have GPU 0, and is told who holds it.
    let e = lease::acquire(
        &inv,
        &lease::Want::Devices(vec![0]),
        &"0".parse().unwrap(),
        &options(h.dir.path(), Duration::ZERO),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains(&format!("leased by pid {pid_a}")), "{e}");
    let st = lease::status(&inv, h.dir.path());
    assert!(matches!(st[0].1, LeaseState::Leased { pid, .. } if pid == pid_a));
    assert_eq!(st[1].1, LeaseState::Free);
    // A second process waits for GPU 0 ...
    let mut b = h.spawn("hold", "b", "0", &[("MLGYM_TEST_WAIT_S", "120")]);
    // ... and gets it once the holder is killed with SIGKILL (no cleanup code runs).
    a.kill().unwrap();
    let status = wait_exit(&mut a);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let held_b = h.wait_for("held b ");
    assert!(held_b.contains(&inv.devices[0].uuid), "{held_b}");
    b.kill().unwrap();
    wait_exit(&mut b);
    let l = lease::acquire(
        &inv,
        &lease::Want::Devices(vec![0]),
        &"0".parse().unwrap(),
        &options(h.dir.path(), Duration::ZERO),
    )
    .unwrap();
    assert_eq!(l.devices()[0].index, 0);
}

#[test]
fn three_gpus_on_a_two_gpu_host_is_a_clear_error() {
    let h = Holders::new();
    for (id, req) in [("index", "3"), ("count", "any:3"), ("ok", "1")] {
        let mut c = h.spawn("plan", id, req, &[]);
        assert!(wait_exit(&mut c).success());
    }
    let lines = h.lines().join("\n");
    let index = h.wait_for("planerr index ");
    assert!(
        index.contains("there is no GPU 3")
            && index.contains("2 GPUs (0: Fake GPU 0, 1: Fake GPU 1)")
            && index.contains("mlgym gpus"),
        "{index}"
    );
    let count = h.wait_for("planerr count ");
    assert!(
        count.contains("asks for 3 GPUs but this host has 2 GPUs"),
        "{count}"
    );
    assert!(lines.contains("planned ok Devices([1])"), "{lines}");
}
