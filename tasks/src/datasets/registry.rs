//! The datasets, their canonical files and the checksums published for them.
//!
//! Sources of the pinned values:
//! * Fashion-MNIST IDX: sizes and MD5s from Zalando's README (the same MD5s are in
//!   torchvision's `FashionMNIST.resources`); SHA-256s as pinned by TensorFlow Datasets'
//!   checksum file for the same URLs.
//! * CIFAR-10 binary: MD5 from the CIFAR page (cs.toronto.edu/~kriz/cifar.html); size and
//!   SHA-256 as pinned by TensorFlow Datasets.
//! * CIFAR-10 Hugging Face parquet (`uoft-cs/cifar10`, revision `0b27149…`): the LFS
//!   SHA-256s and sizes of `plain_text/{train,test}-00000-of-00001.parquet`, and the
//!   SHA-256 of the decoded arrays (uint8 NHWC images, int64 labels) as published with
//!   them.
//! * Fashion-MNIST Hugging Face parquet (`zalando-datasets/fashion_mnist`): no checksum is
//!   published; such an import is checked structurally and its hashes are recorded.

/// A way a dataset is distributed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// MNIST's IDX files (`train-images-idx3-ubyte[.gz]`, ...).
    Idx,
    /// CIFAR-10's binary version (`data_batch_{1..5}.bin`, `test_batch.bin`), loose or in
    /// `cifar-10-binary.tar.gz`.
    CifarBinary,
    /// A Hugging Face parquet export: a `train` and a `test` parquet file with an image
    /// column (struct of PNG `bytes` and `path`) and a `label` column.
    HfParquet,
}

impl Format {
    /// The name used on the command line and in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Idx => "idx",
            Format::CifarBinary => "cifar-binary",
            Format::HfParquet => "hf-parquet",
        }
    }

    /// Parses [`Format::as_str`].
    pub fn parse(s: &str) -> Option<Format> {
        [Format::Idx, Format::CifarBinary, Format::HfParquet]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// One file of a source, as published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteFile {
    /// Path under the source's base URL (and under a mirror's).
    pub path: &'static str,
    /// Size in bytes, when published.
    pub bytes: Option<u64>,
    /// Published MD5 (hex), if any.
    pub md5: Option<&'static str>,
    /// Published or pinned SHA-256 (hex), if any.
    pub sha256: Option<&'static str>,
}

impl RemoteFile {
    /// The file name (last path component): the name it is stored and recognised under.
    pub fn name(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }

    /// Whether any checksum pins this file's content.
    pub fn pinned(&self) -> bool {
        self.md5.is_some() || self.sha256.is_some()
    }
}

/// SHA-256s of the decoded arrays' raw bytes (images uint8 NHWC, labels int64 LE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentHashes {
    /// Training images.
    pub train_images: &'static str,
    /// Training labels.
    pub train_labels: &'static str,
    /// Test images.
    pub test_images: &'static str,
    /// Test labels.
    pub test_labels: &'static str,
}

/// One distribution of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    /// Its format.
    pub format: Format,
    /// Where `mlgym data fetch` downloads it from (files are `base_url + path`).
    pub base_url: &'static str,
    /// Its files.
    pub files: &'static [RemoteFile],
    /// Known SHA-256s of the decoded arrays, checked after decoding.
    pub content: Option<ContentHashes>,
}

/// A dataset of labelled images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Name on the command line and directory under the data root.
    pub name: &'static str,
    /// What it is.
    pub title: &'static str,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Channels (1 grey, 3 RGB).
    pub channels: usize,
    /// Class names, indexed by label.
    pub classes: &'static [&'static str],
    /// Images in the training split.
    pub train_count: usize,
    /// Images in the test split.
    pub test_count: usize,
    /// Its distributions, the default for `fetch` first.
    pub sources: &'static [SourceSpec],
    /// Tasks that use it.
    pub tasks: &'static [&'static str],
}

impl DatasetSpec {
    /// Bytes of one image.
    pub fn image_bytes(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// The source of `format`, if the dataset is distributed that way.
    pub fn source(&self, format: Format) -> Option<&'static SourceSpec> {
        self.sources.iter().find(|s| s.format == format)
    }

    /// The command that stages this dataset (for messages).
    pub fn how_to_stage(&self) -> String {
        format!(
            "run `mlgym data fetch {n}`, or, without network, `mlgym data import {n} DIR` with the files listed by `mlgym data status` (see docs/vision-data.md)",
            n = self.name
        )
    }
}

const FMNIST_URL: &str = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
const FMNIST_HF_URL: &str =
    "https://huggingface.co/datasets/zalando-datasets/fashion_mnist/resolve/main/";
const CIFAR_URL: &str = "https://www.cs.toronto.edu/~kriz/";
const CIFAR_HF_URL: &str =
    "https://huggingface.co/datasets/uoft-cs/cifar10/resolve/0b2714987fa478483af9968de7c934580d0bb9a2/";

/// Fashion-MNIST (Zalando): 60,000 + 10,000 grey 28×28 images of 10 kinds of clothing.
pub static FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: "fashion-mnist",
    title: "Fashion-MNIST (Zalando Research): 28x28 grey images of clothing, 10 classes",
    height: 28,
    width: 28,
    channels: 1,
    classes: &[
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    train_count: 60_000,
    test_count: 10_000,
    sources: &[
        SourceSpec {
            format: Format::Idx,
            base_url: FMNIST_URL,
            files: &[
                RemoteFile {
                    path: "train-images-idx3-ubyte.gz",
                    bytes: Some(26_421_880),
                    md5: Some("8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                    sha256: Some(
                        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    ),
                },
                RemoteFile {
                    path: "train-labels-idx1-ubyte.gz",
                    bytes: Some(29_515),
                    md5: Some("25c81989df183df01b3e8a0aad5dffbe"),
                    sha256: Some(
                        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    ),
                },
                RemoteFile {
                    path: "t10k-images-idx3-ubyte.gz",
                    bytes: Some(4_422_102),
                    md5: Some("bef4ecab320f06d8554ea6380940ec79"),
                    sha256: Some(
                        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    ),
                },
                RemoteFile {
                    path: "t10k-labels-idx1-ubyte.gz",
                    bytes: Some(5_148),
                    md5: Some("bb300cfdad3c16e7a12a480ee83cd310"),
                    sha256: Some(
                        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                    ),
                },
            ],
            content: None,
        },
        SourceSpec {
            format: Format::HfParquet,
            base_url: FMNIST_HF_URL,
            files: &[
                RemoteFile {
                    path: "fashion_mnist/train-00000-of-00001.parquet",
                    bytes: None,
                    md5: None,
                    sha256: None,
                },
                RemoteFile {
                    path: "fashion_mnist/test-00000-of-00001.parquet",
                    bytes: None,
                    md5: None,
                    sha256: None,
                },
            ],
            content: None,
        },
    ],
    tasks: &["imageClassificationFMnist"],
};

/// CIFAR-10 (Krizhevsky): 50,000 + 10,000 colour 32×32 images of 10 classes.
pub static CIFAR10: DatasetSpec = DatasetSpec {
    name: "cifar10",
    title: "CIFAR-10 (Krizhevsky, 2009): 32x32 colour images, 10 classes",
    height: 32,
    width: 32,
    channels: 3,
    classes: &[
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ],
    train_count: 50_000,
    test_count: 10_000,
    sources: &[
        SourceSpec {
            format: Format::CifarBinary,
            base_url: CIFAR_URL,
            files: &[RemoteFile {
                path: "cifar-10-binary.tar.gz",
                bytes: Some(170_052_171),
                md5: Some("c32a1d4ab5d03f1284b67883e8d87530"),
                sha256: Some("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
            }],
            content: None,
        },
        SourceSpec {
            format: Format::HfParquet,
            base_url: CIFAR_HF_URL,
            files: &[
                RemoteFile {
                    path: "plain_text/train-00000-of-00001.parquet",
                    bytes: Some(119_705_255),
                    md5: None,
                    sha256: Some(
                        "8428b53a88a11ac374111006708df51469e315a22ac6d66470afd9c78d2ae883",
                    ),
                },
                RemoteFile {
                    path: "plain_text/test-00000-of-00001.parquet",
                    bytes: Some(23_940_850),
                    md5: None,
                    sha256: Some(
                        "841389e6f2d64f28bf17310e430aebac20ec3ba611a3c5e231dc93c645ce84de",
                    ),
                },
            ],
            content: Some(ContentHashes {
                train_images: "c5b8e1d062f7373a5bc758689b1b9c2a7caf093109b95ceb98cecaf2bd266807",
                train_labels: "d6d2fe5c7528f766adb2e13bf983d1e4707936c06b4ccf240ef3d2dcd72c986d",
                test_images: "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04",
                test_labels: "cbb7365de8ed11f05cc4c3a1e7f78144127c5e851efd83762fb18202461230bb",
            }),
        },
    ],
    tasks: &["imageClassificationCifar10"],
};

/// Every image dataset.
pub static DATASETS: [&DatasetSpec; 2] = [&FASHION_MNIST, &CIFAR10];

/// The dataset called `name`.
pub fn find(name: &str) -> Option<&'static DatasetSpec> {
    DATASETS.iter().copied().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_consistent() {
        for d in DATASETS {
            assert_eq!(d.classes.len(), 10, "{}", d.name);
            for s in d.sources {
                assert!(s.base_url.ends_with('/'));
                for f in s.files {
                    assert!(f.md5.is_none_or(|h| h.len() == 32), "{}", f.path);
                    assert!(
                        f.sha256.is_none_or(
                            |h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())
                        ),
                        "{}",
                        f.path
                    );
                }
            }
        }
        assert_eq!(find("cifar10").map(|d| d.image_bytes()), Some(3072));
        assert_eq!(Format::parse("hf-parquet"), Some(Format::HfParquet));
        assert_eq!(
            FASHION_MNIST.sources[0].files[2].name(),
            "t10k-images-idx3-ubyte.gz"
        );
    }
}
