//! Text files as the editor sees them: reading with confinement checks, splitting into
//! lines (CRLF, missing final newline and empty files kept as they are), and atomic writes
//! that keep the file mode.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Files larger than this are not loaded by the editor (use shell tools instead).
pub(crate) const MAX_FILE_BYTES: u64 = 64 << 20;

/// Why a file cannot be used as text.
#[derive(Debug)]
pub(crate) enum TextProblem {
    Io(io::Error),
    /// The opened file turned out to be outside the workspace (a symlink swapped in).
    Escaped,
    Binary,
    NotUtf8,
    TooLarge(u64),
}

impl TextProblem {
    /// A message naming `shown` (the path as shown to the agent).
    pub fn describe(&self, shown: &str) -> String {
        match self {
            TextProblem::Io(e) => format!("Error: cannot read {shown}: {e}"),
            TextProblem::Escaped => format!(
                "Error: {shown} resolves outside the workspace; the editor only works on files inside it."
            ),
            TextProblem::Binary => format!(
                "Error: {shown} is a binary file. The editor only handles text; inspect it with shell tools (e.g. head, xxd, python)."
            ),
            TextProblem::NotUtf8 => format!(
                "Error: {shown} is not valid UTF-8 text, so the editor will not show or change it (that could corrupt it). Use shell tools (e.g. iconv, sed, python) instead."
            ),
            TextProblem::TooLarge(n) => format!(
                "Error: {shown} is too large for the editor ({n} bytes, limit {MAX_FILE_BYTES}). Use shell tools (e.g. head -n, sed -n, grep -n) instead."
            ),
        }
    }
}

/// The path the kernel reports for an open file, where `/proc` is available.
fn fd_path(file: &File) -> Option<PathBuf> {
    fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
}

/// Opens an existing regular file without blocking (a FIFO swapped in by the agent must
/// not hang the runtime) and refuses anything else.
fn open_regular(path: &Path, write: bool) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Opens `path` for reading and verifies that the file actually opened is inside `root`
/// (guards against a symlink swapped in after the path was resolved).
pub(crate) fn open_confined(path: &Path, root: &Path) -> Result<File, TextProblem> {
    let file = open_regular(path, false).map_err(TextProblem::Io)?;
    if let Some(real) = fd_path(&file) {
        if !real.starts_with(root) {
            return Err(TextProblem::Escaped);
        }
    }
    Ok(file)
}

/// Reads a confined file, refusing ones over [`MAX_FILE_BYTES`].
pub(crate) fn read_confined(path: &Path, root: &Path) -> Result<Vec<u8>, TextProblem> {
    let file = open_confined(path, root)?;
    let size = file.metadata().map_err(TextProblem::Io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(TextProblem::TooLarge(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(TextProblem::Io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(TextProblem::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Whether the bytes look like an image (the check MLGym makes with `file --mime-type`).
pub(crate) fn looks_like_image(path: &Path, head: &[u8]) -> bool {
    const MAGIC: [&[u8]; 7] = [
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"GIF87a",
        b"GIF89a",
        b"II*\0",
        b"MM\0*",
        b"\0\0\x01\0",
    ];
    let bmp = head.len() >= 14 && head.starts_with(b"BM") && head[6..10] == [0, 0, 0, 0];
    let webp = head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP";
    let svg = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    bmp || webp || svg || MAGIC.iter().any(|m| head.starts_with(m))
}

/// A text file split into lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TextFile {
    /// Lines without their `\n`; a line ending in CRLF keeps its `\r` here so that untouched
    /// lines are written back byte for byte.
    pub lines: Vec<String>,
    /// Whether the last line ends with a newline.
    pub trailing_newline: bool,
    /// Whether most lines end in CRLF (new lines then get CRLF too).
    pub crlf: bool,
}

impl TextFile {
    /// Decodes file content; binary (NUL bytes) and non-UTF-8 content is refused.
    pub fn decode(bytes: Vec<u8>) -> Result<TextFile, TextProblem> {
        if bytes.contains(&0) {
            return Err(TextProblem::Binary);
        }
        let text = String::from_utf8(bytes).map_err(|_| TextProblem::NotUtf8)?;
        Ok(TextFile::from_text(&text))
    }

    /// Splits text into lines (as `awk` and `grep -n` count them).
    pub fn from_text(text: &str) -> TextFile {
        let trailing_newline = text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines: Vec<String> = if text.is_empty() {
            Vec::new()
        } else {
            body.split('\n').map(str::to_string).collect()
        };
        let with_cr = lines.iter().filter(|l| l.ends_with('\r')).count();
        let crlf = with_cr * 2 > lines.len();
        TextFile {
            lines,
            trailing_newline,
            crlf,
        }
    }

    /// Line `n` (1-based) without its line terminator.
    pub fn display(&self, n: usize) -> &str {
        let line = &self.lines[n - 1];
        line.strip_suffix('\r').unwrap_or(line)
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Converts lines typed by the agent to this file's line-ending convention.
    pub fn adopt(&self, new_lines: &[String]) -> Vec<String> {
        new_lines
            .iter()
            .map(|l| {
                let bare = l.strip_suffix('\r').unwrap_or(l);
                if self.crlf {
                    format!("{bare}\r")
                } else {
                    bare.to_string()
                }
            })
            .collect()
    }

    /// The file's content. An empty file stays empty; a file that had no final newline
    /// still has none.
    pub fn to_text(&self) -> String {
        let mut text = self.lines.join("\n");
        if !self.lines.is_empty() && self.trailing_newline {
            text.push('\n');
        }
        text
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `contents` to the existing file `path` (canonical) atomically: a temporary file
/// in the same directory, given the original's mode, then renamed over it. When the
/// directory is not writable but the file is, the file is rewritten in place instead.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], root: &Path) -> io::Result<()> {
    let mode = fs::metadata(path).map(|m| m.permissions().mode()).ok();
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file path",
        ));
    };
    for _ in 0..100 {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".{}.mlgym-edit-{}-{n}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return write_in_place(path, contents, root)
            }
            Err(e) => return Err(e),
        };
        let result =
            finish_temp(file, &tmp, contents, mode, root).and_then(|()| fs::rename(&tmp, path));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        return result;
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name",
    ))
}

fn escaped() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "the file resolves outside the workspace",
    )
}

fn finish_temp(
    mut file: File,
    tmp: &Path,
    contents: &[u8],
    mode: Option<u32>,
    root: &Path,
) -> io::Result<()> {
    if fd_path(&file).is_some_and(|p| !p.starts_with(root)) {
        return Err(escaped());
    }
    file.write_all(contents)?;
    if let Some(mode) = mode {
        fs::set_permissions(tmp, fs::Permissions::from_mode(mode & 0o7777))?;
    }
    file.sync_all()
}

fn write_in_place(path: &Path, contents: &[u8], root: &Path) -> io::Result<()> {
    let mut file = open_regular(path, true)?;
    if fd_path(&file).is_some_and(|p| !p.starts_with(root)) {
        return Err(escaped());
    }
    file.set_len(0)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Creates a new file (failing if anything exists at `path`) holding `contents`.
pub(crate) fn create_new(path: &Path, contents: &[u8], root: &Path) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    if fd_path(&file).is_some_and(|p| !p.starts_with(root)) {
        let _ = fs::remove_file(path);
        return Err(escaped());
    }
    file.write_all(contents)?;
    file.sync_all()
}

/// Whether the file can be modified by us: some write bit set and openable for writing.
pub(crate) fn is_writable(path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    if meta.permissions().mode() & 0o222 == 0 {
        return false;
    }
    open_regular(path, true).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        for text in [
            "",
            "\n",
            "a",
            "a\n",
            "a\nb",
            "a\r\nb\r\n",
            "a\n\n\nb\n",
            "x\r\ny\n",
        ] {
            let file = TextFile::from_text(text);
            assert_eq!(file.to_text(), text, "{text:?}");
        }
        assert_eq!(TextFile::from_text("").len(), 0);
        assert_eq!(TextFile::from_text("\n").len(), 1);
        assert_eq!(TextFile::from_text("a\nb").len(), 2);
        let crlf = TextFile::from_text("a\r\nb\r\n");
        assert!(crlf.crlf);
        assert_eq!(crlf.display(1), "a");
        assert_eq!(crlf.adopt(&["z".to_string()]), vec!["z\r".to_string()]);
    }

    #[test]
    fn binary_and_non_utf8_are_refused() {
        assert!(matches!(
            TextFile::decode(b"a\0b".to_vec()),
            Err(TextProblem::Binary)
        ));
        assert!(matches!(
            TextFile::decode(b"caf\xe9\n".to_vec()),
            Err(TextProblem::NotUtf8)
        ));
    }

    #[test]
    fn images_are_recognised() {
        assert!(looks_like_image(
            Path::new("x.bin"),
            b"\x89PNG\r\n\x1a\nrest"
        ));
        assert!(looks_like_image(Path::new("x.svg"), b"<svg"));
        assert!(!looks_like_image(Path::new("x.py"), b"import os"));
    }
}
