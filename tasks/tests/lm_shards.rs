//! FineWeb shards: the reader's checks (magic, version, length), the training loader's
//! windows, and staging (import, status, verify, fetch from a loopback mirror).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod datasets_support;
mod lm_support;

use mlgym_tasks::datasets::digest::file_digest;
use mlgym_tasks::datasets::fetch::{FetchOptions, NoProgress};
use mlgym_tasks::datasets::fineweb::{self, VAL_FILE};
use mlgym_tasks::datasets::registry::RemoteFile;
use mlgym_tasks::lm::shards::{self, Shard, ShardError, TokenLoader};

fn err(path: &std::path::Path) -> String {
    match Shard::open(path).unwrap_err() {
        ShardError::Format { problem, .. } => problem,
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn reader_rejects_bad_magic_version_and_length() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.bin");
    let tokens: Vec<u16> = (0..100).collect();
    let good = shards::encode(&tokens);
    std::fs::write(&p, &good).unwrap();
    let s = Shard::open(&p).unwrap();
    assert_eq!(s.len(), 100);
    assert_eq!(s.read(10, 5).unwrap(), vec![10, 11, 12, 13, 14]);
    assert!(s.read(98, 5).is_err());

    let mut bad = good.clone();
    bad[0] ^= 1;
    std::fs::write(&p, &bad).unwrap();
    let e = err(&p);
    assert!(e.contains("magic number") && e.contains("20240520"), "{e}");

    let mut bad = good.clone();
    bad[4] = 2;
    std::fs::write(&p, &bad).unwrap();
    let e = err(&p);
    assert!(e.contains("version 2"), "{e}");

    std::fs::write(&p, &good[..good.len() - 2]).unwrap();
    let e = err(&p);
    assert!(
        e.contains("announces 100 tokens") && e.contains("1222 bytes"),
        "{e}"
    );
    std::fs::write(&p, [&good[..], &[0, 0]].concat()).unwrap();
    assert!(err(&p).contains("1226 bytes"));
    std::fs::write(&p, &good[..500]).unwrap();
    assert!(err(&p).contains("shorter than the 1024-byte header"));
    let mut bad = good.clone();
    bad[8..12].copy_from_slice(&(-5i32).to_le_bytes());
    std::fs::write(&p, &bad).unwrap();
    assert!(err(&p).contains("negative"));
}

#[test]
fn loader_reads_consecutive_windows_and_moves_to_the_next_shard() {
    let dir = tempfile::tempdir().unwrap();
    let a: Vec<u16> = (0..30).collect();
    let b: Vec<u16> = (100..120).collect();
    shards::write(&dir.path().join("a.bin"), &a).unwrap();
    shards::write(&dir.path().join("b.bin"), &b).unwrap();
    let paths = shards::list(dir.path(), "").unwrap();
    assert_eq!(paths.len(), 2);
    // batch 2 x seq 4 = 8 tokens per step, windows of 9.
    let mut l = TokenLoader::new(&paths, 2, 4).unwrap();
    let (x, y) = l.next_batch().unwrap();
    assert_eq!(x, (0..8).collect::<Vec<u32>>());
    assert_eq!(y, (1..9).collect::<Vec<u32>>());
    let (x, _) = l.next_batch().unwrap();
    assert_eq!(x[0], 8);
    let (x, y) = l.next_batch().unwrap();
    assert_eq!((x[0], y[7]), (16, 24));
    // 24 + 9 > 30: on to shard b, then back to a (cycling), as modded-nanogpt does.
    assert_eq!(l.position(), (1, 0));
    let (x, _) = l.next_batch().unwrap();
    assert_eq!(x[0], 100);
    let (x, _) = l.next_batch().unwrap();
    assert_eq!(x[0], 108);
    assert_eq!(l.position(), (0, 0));
    assert_eq!(l.tokens_read(), 40);
    // A shard shorter than one window is refused up front.
    let e = TokenLoader::new(&paths, 4, 8).unwrap_err().to_string();
    assert!(e.contains("fewer than one batch window"), "{e}");
}

#[test]
fn import_stages_checks_and_verifies() {
    let src = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    assert!(fineweb::check_staged(root.path()).is_err());
    let val = lm_support::markov_tokens(5000, 64, 1);
    let train = vec![
        lm_support::markov_tokens(3000, 64, 2),
        lm_support::markov_tokens(2000, 64, 3),
    ];
    lm_support::write_shards(&src.path().join("fineweb10B"), &val, &train);
    let r = fineweb::import(src.path(), root.path()).unwrap();
    assert!(r.changed);
    assert_eq!(r.manifest.shards.len(), 3);
    assert_eq!(r.manifest.train_tokens(), 5000);
    assert_eq!(r.manifest.scored_tokens, 5000);
    assert!(!r.manifest.shards[0].canonical_size);
    let m = fineweb::check_staged(root.path()).unwrap();
    assert_eq!(m, r.manifest);
    let public = fineweb::public_dir(root.path());
    assert!(public.join("fineweb10B").join(VAL_FILE).is_file());
    assert!(public.join("README.md").is_file());
    assert_eq!(fineweb::train_shards(root.path()).unwrap().len(), 2);
    assert_eq!(
        fineweb::scored_tokens(root.path(), 1024).unwrap(),
        val[..1025]
    );
    let checks = fineweb::verify(root.path()).unwrap().checks;
    assert_eq!(checks.len(), 3, "{checks:?}");
    assert!(checks[0].contains("5000 tokens"), "{checks:?}");

    // Unchanged source: nothing to do.
    assert!(!fineweb::import(src.path(), root.path()).unwrap().changed);

    // A staged shard changed behind our back is caught by verify and by the evaluator's read.
    let staged_val = public.join("fineweb10B").join(VAL_FILE);
    let mut bytes = std::fs::read(&staged_val).unwrap();
    bytes[2000] ^= 1;
    std::fs::write(&staged_val, &bytes).unwrap();
    let e = fineweb::verify(root.path()).unwrap_err().to_string();
    assert!(e.contains("modified or damaged"), "{e}");
    let e = fineweb::scored_tokens(root.path(), 1024)
        .unwrap_err()
        .to_string();
    assert!(e.contains("differ from the manifest"), "{e}");
    // Re-import repairs it; one training shard fewer removes the stale file.
    std::fs::remove_file(src.path().join("fineweb10B").join(fineweb::train_name(2))).unwrap();
    let r = fineweb::import(src.path(), root.path()).unwrap();
    assert!(r.changed);
    assert_eq!(fineweb::train_shards(root.path()).unwrap().len(), 1);
    assert!(!public
        .join("fineweb10B")
        .join(fineweb::train_name(2))
        .exists());
    fineweb::verify(root.path()).unwrap();

    // Errors name what is missing.
    let empty = tempfile::tempdir().unwrap();
    let e = fineweb::import(empty.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains(VAL_FILE), "{e}");
    shards::write(&empty.path().join(VAL_FILE), &val).unwrap();
    let e = fineweb::import(empty.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no fineweb_train_"), "{e}");
    std::fs::write(empty.path().join(fineweb::train_name(1)), b"not a shard").unwrap();
    let e = fineweb::import(empty.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("fineweb_train_000001.bin") && e.contains("header"),
        "{e}"
    );
}

#[test]
fn remote_files_follow_modded_nanogpt_names_and_sizes() {
    let f = fineweb::remote_files(24);
    assert_eq!(f.len(), 25);
    assert_eq!(f[0].path, "fineweb_val_000000.bin");
    assert_eq!(f[1].path, "fineweb_train_000001.bin");
    assert_eq!(f[24].path, "fineweb_train_000024.bin");
    assert!(f.iter().all(|f| f.bytes == Some(200_001_024)));
    let all = fineweb::remote_files(103);
    assert_eq!(all[103].path, "fineweb_train_000103.bin");
    assert_eq!(all[103].bytes, None);
}

#[test]
fn fetch_from_a_mirror_downloads_checks_and_stages() {
    let server = datasets_support::Server::start();
    let src = tempfile::tempdir().unwrap();
    let val = lm_support::markov_tokens(3000, 64, 1);
    let train = vec![lm_support::markov_tokens(2500, 64, 2)];
    lm_support::write_shards(src.path(), &val, &train);
    let mut files = Vec::new();
    for name in [VAL_FILE, fineweb::train_name(1)] {
        let p = src.path().join(name);
        server.put(&format!("m/{name}"), std::fs::read(&p).unwrap());
        files.push(RemoteFile {
            path: name,
            bytes: Some(file_digest(&p).unwrap().bytes),
            md5: None,
            sha256: None,
        });
    }
    let root = tempfile::tempdir().unwrap();
    let mirror = format!("{}/m/", server.url);
    let opts = FetchOptions {
        format: None,
        mirror: Some(&mirror),
        retries: 2,
        progress: &NoProgress,
    };
    // A broken transfer is resumed.
    server.cut_next(&format!("m/{VAL_FILE}"), 1500);
    let r = fineweb::fetch_files(root.path(), &opts, &files).unwrap();
    assert!(r.changed);
    assert_eq!(server.requests_for(&format!("m/{VAL_FILE}")).len(), 2);
    assert_eq!(
        fineweb::scored_tokens(root.path(), 2048).unwrap(),
        val[..2049]
    );
    let checks = fineweb::verify(root.path()).unwrap().checks;
    assert!(
        checks
            .iter()
            .any(|c| c.starts_with("downloads/fineweb_val")),
        "{checks:?}"
    );
    // Again: nothing downloaded, nothing staged.
    let before = server.requests.lock().unwrap().len();
    assert!(
        !fineweb::fetch_files(root.path(), &opts, &files)
            .unwrap()
            .changed
    );
    assert_eq!(server.requests.lock().unwrap().len(), before);
    // A file of the wrong size (e.g. the mirror serves another version) is refused.
    let wrong = vec![
        RemoteFile {
            bytes: Some(999),
            ..files[0]
        },
        files[1],
    ];
    let other = tempfile::tempdir().unwrap();
    let e = fineweb::fetch_files(other.path(), &opts, &wrong)
        .unwrap_err()
        .to_string();
    assert!(e.contains("size") && e.contains("999"), "{e}");
    let e = fineweb::fetch(other.path(), &opts, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--train-shards 0"), "{e}");
}
