//! SHA-256 and MD5 of files and byte slices, as lower-case hex.

use std::io::Read;
use std::path::Path;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::DataError;

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Size, SHA-256 and MD5 of a file, read once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigest {
    /// Bytes.
    pub bytes: u64,
    /// SHA-256 (hex).
    pub sha256: String,
    /// MD5 (hex).
    pub md5: String,
}

/// Hashes the file at `path`.
pub fn file_digest(path: &Path) -> Result<FileDigest, DataError> {
    let mut f = std::fs::File::open(path).map_err(|e| DataError::read(path, e))?;
    let (mut sha, mut md5) = (Sha256::new(), Md5::new());
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| DataError::read(path, e))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        md5.update(&buf[..n]);
        total += n as u64;
    }
    Ok(FileDigest {
        bytes: total,
        sha256: hex(&sha.finalize()),
        md5: hex(&md5.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let d = file_digest(&p).unwrap();
        assert_eq!(d.bytes, 3);
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.md5, "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(sha256(b"abc"), d.sha256);
    }
}
