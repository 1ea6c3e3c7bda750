//! `mlgym data fetch`: download a dataset's canonical files (or a mirror's copy of
//! them) into `<root>/<name>/downloads/`, resuming partial downloads with HTTP `Range`,
//! verify every file against its published size and checksums, then stage it with
//! [`super::stage::import_as`].
//!
//! A download in progress is `NAME.part`; it becomes `NAME` only once verified. An
//! interrupted transfer is retried (resuming) up to `retries` times; a file that fails
//! its checksum is deleted, so the next run starts it afresh.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::digest::file_digest;
use super::registry::{DatasetSpec, Format, RemoteFile};
use super::stage::{dataset_dir, import_as, ImportReport};
use super::DataError;

/// Where download progress goes (a progress bar in the CLI).
pub trait Progress: Sync {
    /// A transfer of `name` starts, `done` of `total` bytes already present.
    fn start(&self, name: &str, total: Option<u64>, done: u64);
    /// `bytes` more arrived.
    fn advance(&self, bytes: u64);
    /// `name` is done (`note`: "downloaded", "already downloaded", "resuming", ...).
    fn finish(&self, name: &str, note: &str);
}

/// Progress that goes nowhere.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self, _: &str, _: &str) {}
}

/// How to fetch.
pub struct FetchOptions<'a> {
    /// Which distribution; `None` takes the dataset's first (its canonical one).
    pub format: Option<Format>,
    /// A base URL to use instead of the canonical one (a lab's internal mirror holding
    /// the same files under the same relative paths).
    pub mirror: Option<&'a str>,
    /// How many times an interrupted transfer is resumed before giving up.
    pub retries: u32,
    /// Progress reports.
    pub progress: &'a dyn Progress,
}

/// Downloads, verifies and stages `spec` under `root`.
pub fn fetch(
    spec: &DatasetSpec,
    root: &Path,
    opts: &FetchOptions<'_>,
) -> Result<ImportReport, DataError> {
    let source = match opts.format {
        Some(f) => spec.source(f).ok_or_else(|| DataError::NotFound {
            path: dataset_dir(spec, root),
            problem: format!(
                "{} is not distributed as {}; formats: {}",
                spec.name,
                f.as_str(),
                spec.sources
                    .iter()
                    .map(|s| s.format.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?,
        None => spec
            .sources
            .first()
            .ok_or_else(|| DataError::NotStaged(format!("{} has no source", spec.name)))?,
    };
    let downloads = dataset_dir(spec, root).join("downloads");
    let paths = download_files(source.files, source.base_url, &downloads, opts)?;
    import_as(spec, &downloads, root, Some(source.format), Some(&paths))
}

/// Downloads `files` from `opts.mirror` (else `base_url`) into `dir`, resuming partial
/// downloads and checking each file against its published size and checksums; returns
/// the local paths, in order. Files already there and matching are not fetched again.
pub fn download_files(
    files: &[RemoteFile],
    base_url: &str,
    dir: &Path,
    opts: &FetchOptions<'_>,
) -> Result<Vec<PathBuf>, DataError> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::write(dir, e))?;
    let base = opts.mirror.unwrap_or(base_url);
    let base = base.strip_suffix('/').unwrap_or(base);
    let agent = agent_for(base);
    let mut paths = Vec::new();
    for f in files {
        let url = format!("{base}/{}", f.path);
        let dest = dir.join(f.name());
        download(&agent, &url, f, &dest, opts)?;
        paths.push(dest);
    }
    Ok(paths)
}

fn agent_for(base: &str) -> ureq::Agent {
    let host = base
        .split("://")
        .nth(1)
        .unwrap_or(base)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    let mut cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)));
    if matches!(host, "127.0.0.1" | "localhost" | "[") || host.starts_with("[::1") {
        // Never send loopback traffic through a proxy from the environment.
        cfg = cfg.proxy(None);
    }
    cfg.build().into()
}

/// The outcome of one transfer attempt.
enum Attempt {
    /// The connection broke mid-transfer: worth resuming.
    Interrupted(String),
    /// Anything else.
    Fatal(DataError),
}

fn matches_published(path: &Path, f: &RemoteFile) -> Result<Option<DataError>, DataError> {
    let d = file_digest(path)?;
    let bad = |what, want: String, found: String| {
        Some(DataError::Checksum {
            path: path.to_path_buf(),
            what,
            name: f.path,
            want,
            found,
            hint: "the download is corrupt (or the mirror serves another file) and was deleted: run the command again",
        })
    };
    if let Some(b) = f.bytes.filter(|b| *b != d.bytes) {
        return Ok(bad(
            "size",
            format!("{b} bytes"),
            format!("{} bytes", d.bytes),
        ));
    }
    if let Some(s) = f.sha256.filter(|s| *s != d.sha256) {
        return Ok(bad("SHA-256", s.to_string(), d.sha256));
    }
    if let Some(m) = f.md5.filter(|m| *m != d.md5) {
        return Ok(bad("MD5", m.to_string(), d.md5));
    }
    Ok(None)
}

/// Downloads one file to `dest` (resuming `dest.part`), then verifies it.
fn download(
    agent: &ureq::Agent,
    url: &str,
    f: &RemoteFile,
    dest: &Path,
    opts: &FetchOptions<'_>,
) -> Result<(), DataError> {
    let name = f.name();
    if dest.is_file() {
        if matches_published(dest, f)?.is_none() {
            opts.progress.finish(name, "already downloaded");
            return Ok(());
        }
        std::fs::remove_file(dest).map_err(|e| DataError::write(dest, e))?;
    }
    let part = dest.with_file_name(format!("{name}.part"));
    let mut attempt = 0;
    loop {
        match transfer(agent, url, f, &part, opts.progress) {
            Ok(()) => break,
            Err(Attempt::Interrupted(why)) if attempt < opts.retries => {
                attempt += 1;
                opts.progress.finish(name, &format!("{why}; resuming (retry {attempt} of {})", opts.retries));
            }
            Err(Attempt::Interrupted(why)) => {
                return Err(DataError::Download {
                    url: url.to_string(),
                    problem: format!("{why}; the partial download is kept in {}: run the same command again to resume", part.display()),
                })
            }
            Err(Attempt::Fatal(e)) => return Err(e),
        }
    }
    if let Some(e) = matches_published(&part, f)? {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    std::fs::rename(&part, dest).map_err(|e| DataError::write(dest, e))?;
    opts.progress.finish(name, "downloaded and verified");
    Ok(())
}

fn transfer(
    agent: &ureq::Agent,
    url: &str,
    f: &RemoteFile,
    part: &Path,
    progress: &dyn Progress,
) -> Result<(), Attempt> {
    let fatal = |problem: String| {
        Attempt::Fatal(DataError::Download {
            url: url.to_string(),
            problem,
        })
    };
    let mut have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if let Some(total) = f.bytes {
        if have == total {
            return Ok(());
        }
        if have > total {
            std::fs::remove_file(part).map_err(|e| Attempt::Fatal(DataError::write(part, e)))?;
            have = 0;
        }
    }
    let mut req = agent.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let resp = req.call().map_err(|e| fatal(format!("{e}; check the network, or pass --mirror URL (a lab mirror), or carry the files in and use `mlgym data import`")))?;
    let status = resp.status().as_u16();
    let header = |k: &str| {
        resp.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let length: Option<u64> = header("content-length").and_then(|v| v.parse().ok());
    let (file, offset) = match status {
        206 if have > 0 => {
            let range = header("content-range").unwrap_or_default();
            if !range.starts_with(&format!("bytes {have}-")) {
                let _ = std::fs::remove_file(part);
                return Err(Attempt::Interrupted(format!("the server answered range `{range}` to a request from byte {have}; starting over")));
            }
            (std::fs::OpenOptions::new().append(true).open(part), have)
        }
        200 | 206 => (std::fs::File::create(part), 0),
        416 if have > 0 => {
            // The server cannot resume from here (the partial file may come from another
            // version): start over.
            let _ = std::fs::remove_file(part);
            return Err(Attempt::Interrupted(
                "the server cannot resume this partial download; starting over".into(),
            ));
        }
        s => {
            return Err(fatal(format!(
                "HTTP status {s}; check the address (or --mirror URL)"
            )))
        }
    };
    let mut file = file.map_err(|e| Attempt::Fatal(DataError::write(part, e)))?;
    progress.start(f.name(), length.map(|l| l + offset).or(f.bytes), offset);
    let mut body = resp.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = file.sync_all();
                return Err(Attempt::Interrupted(format!(
                    "the connection broke after {} bytes ({e})",
                    offset + got
                )));
            }
        };
        file.write_all(&buf[..n])
            .map_err(|e| Attempt::Fatal(DataError::write(part, e)))?;
        got += n as u64;
        progress.advance(n as u64);
    }
    file.sync_all()
        .map_err(|e| Attempt::Fatal(DataError::write(part, e)))?;
    if length.is_some_and(|l| got < l) {
        return Err(Attempt::Interrupted(format!(
            "the connection closed after {} bytes",
            offset + got
        )));
    }
    Ok(())
}

/// Where `fetch` keeps the downloaded files of `spec`.
pub fn downloads_dir(spec: &DatasetSpec, root: &Path) -> PathBuf {
    dataset_dir(spec, root).join("downloads")
}
