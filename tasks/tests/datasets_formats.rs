//! Every supported format of the image datasets, generated synthetically, imported and
//! checked byte for byte; re-import, verify, and the errors a user can hit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod datasets_support;

use datasets_support::*;
use mlgym_tasks::datasets::registry::{Format, RemoteFile, SourceSpec, FASHION_MNIST};
use mlgym_tasks::datasets::{check_staged, digest, import, verify, DataError};

#[test]
fn idx_gzipped_and_plain_import_byte_for_byte() {
    let spec = fmnist_like(30, 12);
    let d = synthetic(spec, 1, false);
    for gzipped in [true, false] {
        let src = tempfile::tempdir().unwrap();
        write_idx(spec, &d, &src.path().join("nested"), gzipped);
        let root = tempfile::tempdir().unwrap();
        let r = import(spec, src.path(), root.path()).unwrap();
        assert!(r.changed);
        assert_eq!(r.manifest.source_format, Format::Idx);
        assert!(r.manifest.source_files.iter().all(|f| !f.pinned));
        assert_staged_equals(spec, root.path(), &d);
        let again = import(spec, src.path(), root.path()).unwrap();
        assert!(!again.changed, "a second import writes nothing");
        assert_eq!(verify(spec, root.path()).unwrap().checks.len(), 4);
    }
}

#[test]
fn cifar_binary_loose_and_tarball_import_byte_for_byte() {
    let spec = cifar_like(20, 6);
    let d = synthetic(spec, 2, false);
    let loose = tempfile::tempdir().unwrap();
    write_cifar_loose(spec, &d, loose.path());
    let root = tempfile::tempdir().unwrap();
    import(spec, loose.path(), root.path()).unwrap();
    assert_staged_equals(spec, root.path(), &d);

    let tarball = tempfile::tempdir().unwrap();
    let path = tarball.path().join("cifar-10-binary.tar.gz");
    std::fs::write(&path, cifar_tarball(spec, &d)).unwrap();
    let root2 = tempfile::tempdir().unwrap();
    let r = import(spec, &path, root2.path()).unwrap();
    assert_eq!(r.manifest.source_format, Format::CifarBinary);
    assert_staged_equals(spec, root2.path(), &d);
    // Same content from both forms.
    let m1 = check_staged(spec, root.path()).unwrap();
    let m2 = check_staged(spec, root2.path()).unwrap();
    assert_eq!(m1.arrays, m2.arrays);
}

#[test]
fn parquet_exports_import_byte_for_byte() {
    for (spec, column) in [(fmnist_like(16, 6), "image"), (cifar_like(10, 4), "img")] {
        let d = synthetic(spec, 3, false);
        let src = tempfile::tempdir().unwrap();
        write_parquet(spec, &d, src.path(), column);
        let root = tempfile::tempdir().unwrap();
        let r = import(spec, src.path(), root.path()).unwrap();
        assert_eq!(r.manifest.source_format, Format::HfParquet);
        assert_staged_equals(spec, root.path(), &d);
        verify(spec, root.path()).unwrap();
    }
}

#[test]
fn verify_catches_a_modified_staged_file() {
    let spec = fmnist_like(10, 4);
    let d = synthetic(spec, 4, false);
    let src = tempfile::tempdir().unwrap();
    write_idx(spec, &d, src.path(), true);
    let root = tempfile::tempdir().unwrap();
    import(spec, src.path(), root.path()).unwrap();
    let p = root.path().join("fashion-mnist/public/test_images.npy");
    let mut bytes = std::fs::read(&p).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&p, &bytes).unwrap();
    let e = verify(spec, root.path()).unwrap_err().to_string();
    assert!(
        e.contains("test_images.npy") && e.contains("import the dataset again"),
        "{e}"
    );
    // A truncated file makes the dataset not staged at all.
    std::fs::write(&p, &bytes[..100]).unwrap();
    assert!(check_staged(spec, root.path())
        .unwrap_err()
        .contains("bytes"));
}

#[test]
fn published_checksums_are_enforced() {
    let base = fmnist_like(8, 4);
    let d = synthetic(base, 5, false);
    let src = tempfile::tempdir().unwrap();
    let paths = write_idx(base, &d, src.path(), true);
    let good = digest::file_digest(&paths[0]).unwrap();
    let pin = |sha: String| -> &'static [RemoteFile] {
        let mut files = unpinned(Format::Idx, &IDX_NAMES).files.to_vec();
        files[0].sha256 = Some(Box::leak(sha.into_boxed_str()));
        files[0].md5 = Some(Box::leak(good.md5.clone().into_boxed_str()));
        Box::leak(files.into_boxed_slice())
    };
    let pinned = |sha: String| {
        spec(
            "fashion-mnist",
            28,
            28,
            1,
            8,
            4,
            vec![SourceSpec {
                format: Format::Idx,
                base_url: "http://x/",
                files: pin(sha),
                content: None,
            }],
        )
    };
    let root = tempfile::tempdir().unwrap();
    let r = import(pinned(good.sha256.clone()), src.path(), root.path()).unwrap();
    assert!(r.manifest.source_files[0].pinned && !r.manifest.source_files[1].pinned);
    let e = import(pinned("0".repeat(64)), src.path(), root.path()).unwrap_err();
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
        e.to_string().contains("train-images-idx3-ubyte.gz") && e.to_string().contains("again"),
        "{e}"
    );
}

#[test]
fn wrong_counts_shapes_and_missing_files_are_reported() {
    let spec = fmnist_like(10, 4);
    let d = synthetic(spec, 6, false);
    let src = tempfile::tempdir().unwrap();
    write_idx(spec, &d, src.path(), false);
    let root = tempfile::tempdir().unwrap();
    // The real registry wants 60,000 training images.
    let e = import(&FASHION_MNIST, src.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("10 images") && e.contains("60000"), "{e}");
    // CIFAR-shaped spec: no binary batches here.
    let e = import(cifar_like(10, 4), src.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no complete copy") && e.contains("cifar-10-binary.tar.gz"),
        "{e}"
    );
    // A missing file.
    std::fs::remove_file(src.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let e = import(spec, src.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t10k-labels-idx1-ubyte") && e.contains("idx ("),
        "{e}"
    );
    // A truncated gzip.
    let gzdir = tempfile::tempdir().unwrap();
    let paths = write_idx(spec, &d, gzdir.path(), true);
    let b = std::fs::read(&paths[0]).unwrap();
    std::fs::write(&paths[0], &b[..b.len() / 2]).unwrap();
    let e = import(spec, gzdir.path(), root.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("train-images-idx3-ubyte.gz") && e.contains("truncated"),
        "{e}"
    );
    assert!(
        check_staged(spec, root.path()).is_err(),
        "nothing was staged"
    );
}
