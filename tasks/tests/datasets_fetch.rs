//! `fetch` against a loopback HTTP server serving synthetic files: verification against
//! pinned checksums, a corrupted file, a truncated download, and resuming it with
//! `Range`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod datasets_support;

use datasets_support::*;
use mlgym_tasks::datasets::digest::{file_digest, sha256};
use mlgym_tasks::datasets::fetch::{fetch, FetchOptions, NoProgress};
use mlgym_tasks::datasets::registry::{DatasetSpec, Format, RemoteFile, SourceSpec};
use mlgym_tasks::datasets::{DataError, Decoded};

/// A spec whose IDX files are pinned to the synthetic files' sizes and checksums, and
/// the server holding those files.
fn setup(seed: u64) -> (&'static DatasetSpec, Decoded, Server) {
    let base = fmnist_like(24, 8);
    let d = synthetic(base, seed, false);
    let dir = tempfile::tempdir().unwrap();
    let paths = write_idx(base, &d, dir.path(), true);
    let server = Server::start();
    let mut files = Vec::new();
    for (name, p) in IDX_NAMES.iter().zip(&paths) {
        let f = file_digest(p).unwrap();
        server.put(&format!("mirror/{name}"), std::fs::read(p).unwrap());
        files.push(RemoteFile {
            path: name,
            bytes: Some(f.bytes),
            md5: Some(Box::leak(f.md5.into_boxed_str())),
            sha256: Some(Box::leak(f.sha256.into_boxed_str())),
        });
    }
    let source = SourceSpec {
        format: Format::Idx,
        base_url: "http://unreachable.invalid/",
        files: Box::leak(files.into_boxed_slice()),
        content: None,
    };
    (
        spec("fashion-mnist", 28, 28, 1, 24, 8, vec![source]),
        d,
        server,
    )
}

fn opts<'a>(mirror: &'a str, retries: u32) -> FetchOptions<'a> {
    FetchOptions {
        format: None,
        mirror: Some(mirror),
        retries,
        progress: &NoProgress,
    }
}

#[test]
fn fetch_downloads_verifies_and_stages() {
    let (spec, d, server) = setup(11);
    let root = tempfile::tempdir().unwrap();
    let mirror = format!("{}/mirror/", server.url);
    let r = fetch(spec, root.path(), &opts(&mirror, 0)).unwrap();
    assert!(r.changed && r.manifest.source_files.iter().all(|f| f.pinned));
    assert_staged_equals(spec, root.path(), &d);
    assert!(root
        .path()
        .join("fashion-mnist/downloads/train-images-idx3-ubyte.gz")
        .is_file());
    // Everything is there: a second fetch downloads nothing and stages nothing new.
    let before = server.requests.lock().unwrap().len();
    let again = fetch(spec, root.path(), &opts(&mirror, 0)).unwrap();
    assert!(!again.changed);
    assert_eq!(server.requests.lock().unwrap().len(), before);
    // verify re-hashes the kept downloads too.
    let checks = mlgym_tasks::datasets::verify(spec, root.path())
        .unwrap()
        .checks;
    assert!(
        checks
            .iter()
            .any(|c| c.starts_with("downloads/t10k-labels")),
        "{checks:?}"
    );
}

#[test]
fn a_corrupted_download_is_rejected_and_deleted() {
    let (spec, _, server) = setup(12);
    let name = "t10k-images-idx3-ubyte.gz";
    let mut bytes = server.files.lock().unwrap()[&format!("mirror/{name}")]
        .bytes
        .clone();
    bytes[40] ^= 0x55;
    server.put(&format!("mirror/{name}"), bytes);
    let root = tempfile::tempdir().unwrap();
    let e = fetch(
        spec,
        root.path(),
        &opts(&format!("{}/mirror", server.url), 3),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            DataError::Checksum {
                what: "SHA-256",
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains(name) && e.to_string().contains("run the command again"),
        "{e}"
    );
    let dl = root.path().join("fashion-mnist/downloads");
    assert!(!dl.join(name).exists() && !dl.join(format!("{name}.part")).exists());
    assert!(mlgym_tasks::datasets::check_staged(spec, root.path()).is_err());
}

#[test]
fn a_truncated_download_is_kept_and_resumed_with_range() {
    let (spec, d, server) = setup(13);
    let name = "train-images-idx3-ubyte.gz";
    let path = format!("mirror/{name}");
    let total = server.files.lock().unwrap()[&path].bytes.len();
    let cut = total / 3;
    server.cut_next(&path, cut);
    let root = tempfile::tempdir().unwrap();
    let mirror = format!("{}/mirror", server.url);
    let e = fetch(spec, root.path(), &opts(&mirror, 0)).unwrap_err();
    assert!(matches!(e, DataError::Download { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("run the same command again to resume"),
        "{e}"
    );
    let part = root
        .path()
        .join(format!("fashion-mnist/downloads/{name}.part"));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), cut as u64);
    // The next run asks for the rest only.
    fetch(spec, root.path(), &opts(&mirror, 0)).unwrap();
    assert_eq!(
        server.requests_for(&path),
        [None, Some(format!("bytes={cut}-"))]
    );
    assert!(!part.exists());
    assert_staged_equals(spec, root.path(), &d);
}

#[test]
fn an_interrupted_transfer_resumes_within_one_run() {
    let (spec, d, server) = setup(14);
    let path = "mirror/t10k-images-idx3-ubyte.gz".to_string();
    server.cut_next(&path, 1000);
    let root = tempfile::tempdir().unwrap();
    fetch(
        spec,
        root.path(),
        &opts(&format!("{}/mirror", server.url), 2),
    )
    .unwrap();
    assert_eq!(
        server.requests_for(&path),
        [None, Some("bytes=1000-".to_string())]
    );
    assert_staged_equals(spec, root.path(), &d);
}

#[test]
fn a_missing_file_names_the_address() {
    let (spec, _, server) = setup(15);
    server
        .files
        .lock()
        .unwrap()
        .remove("mirror/train-labels-idx1-ubyte.gz");
    let root = tempfile::tempdir().unwrap();
    let e = fetch(
        spec,
        root.path(),
        &opts(&format!("{}/mirror", server.url), 1),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("train-labels-idx1-ubyte.gz") && e.contains("404") && e.contains("--mirror"),
        "{e}"
    );
    assert_ne!(sha256(b"x"), sha256(b"y"));
}
