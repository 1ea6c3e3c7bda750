//! Shared by the dataset and vision tests: synthetic datasets written in every supported
//! format, test-only dataset specs, and a tiny threaded HTTP server with `Range` support.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mlgym_tasks::datasets::registry::{DatasetSpec, Format, RemoteFile, SourceSpec};
use mlgym_tasks::datasets::{cifar, idx, npy, Decoded, Split};
use mlgym_tasks::rng::Rng;

fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

/// A dataset spec for synthetic data: `train`/`test` images of `h×w×c`, unpinned files
/// with the canonical names (or the given remote files).
pub fn spec(
    name: &'static str,
    h: usize,
    w: usize,
    c: usize,
    train: usize,
    test: usize,
    sources: Vec<SourceSpec>,
) -> &'static DatasetSpec {
    leak(DatasetSpec {
        name,
        title: "synthetic test data",
        height: h,
        width: w,
        channels: c,
        classes: &["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"],
        train_count: train,
        test_count: test,
        sources: Box::leak(sources.into_boxed_slice()),
        tasks: &[],
    })
}

pub fn unpinned(format: Format, paths: &[&'static str]) -> SourceSpec {
    let files: Vec<RemoteFile> = paths
        .iter()
        .map(|p| RemoteFile {
            path: p,
            bytes: None,
            md5: None,
            sha256: None,
        })
        .collect();
    SourceSpec {
        format,
        base_url: "http://invalid.example/",
        files: Box::leak(files.into_boxed_slice()),
        content: None,
    }
}

pub const IDX_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];
pub const PARQUET_NAMES: [&str; 2] = [
    "data/train-00000-of-00001.parquet",
    "data/test-00000-of-00001.parquet",
];

/// Fashion-MNIST-shaped synthetic spec (28×28×1) with IDX and parquet sources.
pub fn fmnist_like(train: usize, test: usize) -> &'static DatasetSpec {
    spec(
        "fashion-mnist",
        28,
        28,
        1,
        train,
        test,
        vec![
            unpinned(Format::Idx, &IDX_NAMES),
            unpinned(Format::HfParquet, &PARQUET_NAMES),
        ],
    )
}

/// CIFAR-10-shaped synthetic spec (32×32×3) with binary and parquet sources.
pub fn cifar_like(train: usize, test: usize) -> &'static DatasetSpec {
    spec(
        "cifar10",
        32,
        32,
        3,
        train,
        test,
        vec![
            unpinned(Format::CifarBinary, &["cifar-10-binary.tar.gz"]),
            unpinned(Format::HfParquet, &PARQUET_NAMES),
        ],
    )
}

/// Random images and labels; with `learnable`, class k is a bright square at a
/// class-specific place on a noisy background.
pub fn synthetic(spec: &DatasetSpec, seed: u64, learnable: bool) -> Decoded {
    let mut rng = Rng::new(seed);
    let mut split = |n: usize| {
        let mut s = Split::default();
        for _ in 0..n {
            let label = rng.below(10) as u8;
            let (h, w, c) = (spec.height, spec.width, spec.channels);
            for y in 0..h {
                for x in 0..w {
                    for _ in 0..c {
                        let noise = rng.below(if learnable { 60 } else { 256 }) as u8;
                        let (ky, kx) = (
                            (label as usize / 5) * (h / 2) + 3,
                            (label as usize % 5) * (w / 5) + 1,
                        );
                        let inside =
                            learnable && (ky..ky + 6).contains(&y) && (kx..kx + 4).contains(&x);
                        s.images.push(if inside { 200 + noise / 2 } else { noise });
                    }
                }
            }
            s.labels.push(label);
        }
        s
    };
    let train = split(spec.train_count);
    let test = split(spec.test_count);
    Decoded { train, test }
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Writes the four IDX files (gzipped or not) into `dir`.
pub fn write_idx(spec: &DatasetSpec, d: &Decoded, dir: &Path, gzipped: bool) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let (h, w) = (spec.height, spec.width);
    let parts = [
        idx::encode(&[d.train.len(), h, w], &d.train.images),
        idx::encode(&[d.train.len()], &d.train.labels),
        idx::encode(&[d.test.len(), h, w], &d.test.images),
        idx::encode(&[d.test.len()], &d.test.labels),
    ];
    IDX_NAMES
        .iter()
        .zip(parts)
        .map(|(name, bytes)| {
            let (name, bytes) = if gzipped {
                (name.to_string(), gz(&bytes))
            } else {
                (name.trim_end_matches(".gz").to_string(), bytes)
            };
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}

/// The six CIFAR binary batches (training split in five equal parts).
pub fn cifar_batches(spec: &DatasetSpec, d: &Decoded) -> Vec<(String, Vec<u8>)> {
    let (h, w, c) = (spec.height, spec.width, spec.channels);
    let per = d.train.len() / 5;
    let mut out = Vec::new();
    for b in 0..5 {
        let (lo, hi) = (b * per, (b + 1) * per);
        out.push((
            format!("data_batch_{}.bin", b + 1),
            cifar::encode(
                h,
                w,
                c,
                &d.train.images[lo * h * w * c..hi * h * w * c],
                &d.train.labels[lo..hi],
            ),
        ));
    }
    out.push((
        "test_batch.bin".into(),
        cifar::encode(h, w, c, &d.test.images, &d.test.labels),
    ));
    out
}

/// Writes loose batches into `dir`.
pub fn write_cifar_loose(spec: &DatasetSpec, d: &Decoded, dir: &Path) {
    let sub = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&sub).unwrap();
    for (name, bytes) in cifar_batches(spec, d) {
        std::fs::write(sub.join(name), bytes).unwrap();
    }
    std::fs::write(sub.join("batches.meta.txt"), "airplane\n").unwrap();
}

/// The bytes of `cifar-10-binary.tar.gz` holding the batches (as the real one does,
/// under `cifar-10-batches-bin/`).
pub fn cifar_tarball(spec: &DatasetSpec, d: &Decoded) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("cifar-10-batches-bin/{name}"), bytes)
            .unwrap();
    };
    add("readme.html", b"<html></html>");
    for (name, bytes) in cifar_batches(spec, d).iter().rev() {
        add(name, bytes);
    }
    gz(&tar.into_inner().unwrap())
}

fn png(spec: &DatasetSpec, pixels: &[u8]) -> Vec<u8> {
    use image::ImageEncoder as _;
    let mut out = Vec::new();
    let color = if spec.channels == 1 {
        image::ColorType::L8
    } else {
        image::ColorType::Rgb8
    };
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(pixels, spec.width as u32, spec.height as u32, color)
        .unwrap();
    out
}

/// Bytes of a parquet file laid out like the Hugging Face exports: an optional group
/// `image_column { bytes, path }` of PNGs and an int64 `label`, Snappy-compressed.
pub fn parquet_bytes(spec: &DatasetSpec, split: &Split, image_column: &str) -> Vec<u8> {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    let schema = format!(
        "message schema {{ optional group {image_column} {{ optional binary bytes; optional binary path (STRING); }} optional int64 label; }}"
    );
    let schema = Arc::new(parquet::schema::parser::parse_message_type(&schema).unwrap());
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let mut buf = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut buf, schema, props).unwrap();
    let n = split.len();
    let per = spec.image_bytes();
    // Two row groups, to exercise reading more than one.
    for (lo, hi) in [(0, n / 2), (n / 2, n)] {
        let mut rg = writer.next_row_group().unwrap();
        let pngs: Vec<ByteArray> = (lo..hi)
            .map(|i| ByteArray::from(png(spec, &split.images[i * per..(i + 1) * per])))
            .collect();
        let labels: Vec<i64> = split.labels[lo..hi].iter().map(|&l| i64::from(l)).collect();
        let mut col = rg.next_column().unwrap().unwrap();
        col.typed::<ByteArrayType>()
            .write_batch(&pngs, Some(&vec![2; hi - lo]), None)
            .unwrap();
        col.close().unwrap();
        let mut col = rg.next_column().unwrap().unwrap();
        col.typed::<ByteArrayType>()
            .write_batch(&[], Some(&vec![1; hi - lo]), None)
            .unwrap();
        col.close().unwrap();
        let mut col = rg.next_column().unwrap().unwrap();
        col.typed::<Int64Type>()
            .write_batch(&labels, Some(&vec![1; hi - lo]), None)
            .unwrap();
        col.close().unwrap();
        rg.close().unwrap();
    }
    writer.close().unwrap();
    buf
}

/// Writes `data/train-….parquet` and `data/test-….parquet` into `dir`.
pub fn write_parquet(spec: &DatasetSpec, d: &Decoded, dir: &Path, image_column: &str) {
    let sub = dir.join("data");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        sub.join("train-00000-of-00001.parquet"),
        parquet_bytes(spec, &d.train, image_column),
    )
    .unwrap();
    std::fs::write(
        sub.join("test-00000-of-00001.parquet"),
        parquet_bytes(spec, &d.test, image_column),
    )
    .unwrap();
}

/// Checks the staged arrays under `root` byte for byte against `d`.
pub fn assert_staged_equals(spec: &DatasetSpec, root: &Path, d: &Decoded) {
    let dir = root.join(spec.name);
    let (h, w, c) = (spec.height, spec.width, spec.channels);
    let a = npy::read(&dir.join("public/train_images.npy")).unwrap();
    assert_eq!(a.shape, [d.train.len(), h, w, c]);
    assert!(a.data == d.train.images, "training images differ");
    let a = npy::read(&dir.join("public/train_labels.npy")).unwrap();
    assert_eq!(
        a.as_i64(),
        d.train
            .labels
            .iter()
            .map(|&l| i64::from(l))
            .collect::<Vec<_>>()
    );
    let a = npy::read(&dir.join("public/test_images.npy")).unwrap();
    assert_eq!(a.shape, [d.test.len(), h, w, c]);
    assert!(a.data == d.test.images, "test images differ");
    let a = npy::read(&dir.join("private/test_labels.npy")).unwrap();
    assert_eq!(
        a.as_i64(),
        d.test
            .labels
            .iter()
            .map(|&l| i64::from(l))
            .collect::<Vec<_>>()
    );
    let public: Vec<String> = std::fs::read_dir(dir.join("public"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !public.iter().any(|n| n.contains("test_labels")),
        "{public:?}"
    );
}

/// How the server misbehaves for one file.
#[derive(Clone, Debug, Default)]
pub struct Served {
    /// The content.
    pub bytes: Vec<u8>,
    /// Cut the next response's body after this many bytes (then close the connection).
    pub cut_next: Option<usize>,
}

/// Requests seen: (path, Range header).
pub type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A loopback HTTP/1.1 server with `Range: bytes=N-` support.
#[derive(Clone)]
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Files by path (without the leading `/`).
    pub files: Arc<Mutex<HashMap<String, Served>>>,
    /// Every request: (path, Range header).
    pub requests: Log,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let s = Server {
            url,
            files: Arc::default(),
            requests: Arc::default(),
        };
        let shared = s.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || shared.serve(conn));
            }
        });
        s
    }

    pub fn put(&self, path: &str, bytes: Vec<u8>) {
        self.files.lock().unwrap().insert(
            path.to_string(),
            Served {
                bytes,
                cut_next: None,
            },
        );
    }

    pub fn cut_next(&self, path: &str, at: usize) {
        self.files.lock().unwrap().get_mut(path).unwrap().cut_next = Some(at);
    }

    pub fn requests_for(&self, path: &str) -> Vec<Option<String>> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, r)| r.clone())
            .collect()
    }

    fn serve(&self, conn: TcpStream) {
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .trim_start_matches('/')
            .to_string();
        let mut range = None;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("range") {
                    range = Some(v.trim().to_string());
                }
            }
        }
        self.requests
            .lock()
            .unwrap()
            .push((path.clone(), range.clone()));
        let mut out = conn;
        let served = {
            let mut files = self.files.lock().unwrap();
            files
                .get_mut(&path)
                .map(|f| (f.bytes.clone(), f.cut_next.take()))
        };
        let Some((bytes, cut)) = served else {
            let _ = out.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        };
        let start = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok());
        let head = match start {
            Some(s) if s >= bytes.len() => {
                let _ = write!(out, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", bytes.len());
                return;
            }
            Some(s) => format!("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {s}-{}/{}\r\nContent-Length: {}\r\n", bytes.len() - 1, bytes.len(), bytes.len() - s),
            None => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n", bytes.len()),
        };
        let body = &bytes[start.unwrap_or(0)..];
        let _ = out.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes());
        let _ = out.write_all(&body[..cut.unwrap_or(body.len()).min(body.len())]);
        let _ = out.flush();
        let _ = out.shutdown(std::net::Shutdown::Both);
    }
}
