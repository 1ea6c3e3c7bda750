//! NumPy's `.npy` format (version 1.0), enough for uint8 and int64 arrays in C order:
//! readable by `numpy.load` with numpy alone, and by candle.

use std::io::Write;
use std::path::Path;

use super::DataError;

/// Element type of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// `|u1`.
    Uint8,
    /// `<i8` (little-endian int64).
    Int64,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::Uint8 => "|u1",
            Dtype::Int64 => "<i8",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::Uint8 => 1,
            Dtype::Int64 => 8,
        }
    }
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// The header of an array of `dtype` and `shape`: magic, version 1.0, length, and the
/// dict padded with spaces and a newline so that the data starts at a multiple of 64.
pub fn header(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}",
        dtype.descr()
    );
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// The raw little-endian bytes of labels stored as int64.
pub fn labels_as_i64(labels: &[u8]) -> Vec<u8> {
    labels
        .iter()
        .flat_map(|&l| i64::from(l).to_le_bytes())
        .collect()
}

/// Writes header + data to `w`.
pub fn write(
    w: &mut impl Write,
    dtype: Dtype,
    shape: &[usize],
    data: &[u8],
) -> std::io::Result<()> {
    w.write_all(&header(dtype, shape))?;
    w.write_all(data)
}

/// A parsed `.npy` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Array {
    /// Element type.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// Raw data bytes (C order, little-endian).
    pub data: Vec<u8>,
}

impl Array {
    /// The values of an int64 array.
    pub fn as_i64(&self) -> Vec<i64> {
        self.data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect()
    }
}

/// Parses `.npy` bytes (version 1.0 or 2.0, C order, `|u1` or `<i8`).
pub fn parse(bytes: &[u8]) -> Result<Array, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (bad magic)".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let dict = bytes
        .get(start..start + len)
        .ok_or("truncated .npy header")?;
    let dict = std::str::from_utf8(dict).map_err(|_| "the .npy header is not text")?;
    let field = |key: &str| -> Option<&str> {
        let at = dict.find(&format!("'{key}':"))? + key.len() + 3;
        Some(dict[at..].trim_start())
    };
    let descr = field("descr").ok_or("no 'descr' in the .npy header")?;
    let dtype = if descr.starts_with("'|u1'") {
        Dtype::Uint8
    } else if descr.starts_with("'<i8'") {
        Dtype::Int64
    } else {
        return Err(format!(
            "unsupported dtype {}",
            descr.split(',').next().unwrap_or(descr)
        ));
    };
    if !field("fortran_order").is_some_and(|v| v.starts_with("False")) {
        return Err("only C-order arrays are supported".into());
    }
    let shape_text = field("shape").ok_or("no 'shape' in the .npy header")?;
    let close = shape_text
        .find(')')
        .ok_or("bad 'shape' in the .npy header")?;
    let shape = shape_text[1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension `{s}`"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let data = &bytes[start + len..];
    let want = shape.iter().product::<usize>() * dtype.size();
    if data.len() != want {
        return Err(format!(
            "{} data bytes, but shape {shape:?} needs {want}",
            data.len()
        ));
    }
    Ok(Array {
        dtype,
        shape,
        data: data.to_vec(),
    })
}

/// Reads and parses the `.npy` file at `path`.
pub fn read(path: &Path) -> Result<Array, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::read(path, e))?;
    parse(&bytes).map_err(|p| DataError::format(path, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_round_trips() {
        for shape in [vec![3usize], vec![2, 28, 28, 1], vec![0, 32, 32, 3]] {
            let h = header(Dtype::Uint8, &shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(*h.last().unwrap(), b'\n');
            let n: usize = shape.iter().product();
            let mut bytes = h.clone();
            bytes.extend((0..n).map(|i| i as u8));
            let a = parse(&bytes).unwrap();
            assert_eq!((a.dtype, &a.shape, a.data.len()), (Dtype::Uint8, &shape, n));
        }
        let h = String::from_utf8(header(Dtype::Int64, &[5])[10..].to_vec()).unwrap();
        assert!(
            h.starts_with("{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"),
            "{h}"
        );
        let mut bytes = header(Dtype::Int64, &[2]);
        bytes.extend(labels_as_i64(&[3, 9]));
        assert_eq!(parse(&bytes).unwrap().as_i64(), [3, 9]);
        assert!(parse(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .contains("data bytes"));
        assert!(parse(b"garbage!!!!!").unwrap_err().contains("magic"));
    }
}
