//! A safetensors writer (the format: an 8-byte little-endian header length, a JSON header
//! `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//! "__metadata__": {..}}` padded with spaces to a multiple of 8, then the raw
//! little-endian data of every tensor in header order).

use std::path::Path;

/// Writes float32 `tensors` (`(name, shape, values)`) and string `metadata` to `path`.
pub fn write(
    path: &Path,
    tensors: &[(String, Vec<usize>, &[f32])],
    metadata: &[(String, String)],
) -> std::io::Result<()> {
    let mut parts = Vec::with_capacity(tensors.len() + 1);
    let mut offset = 0usize;
    for (name, shape, values) in tensors {
        let shape_s: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let end = offset + 4 * values.len();
        parts.push(format!(
            "\"{}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            escape(name),
            shape_s.join(",")
        ));
        offset = end;
    }
    if !metadata.is_empty() {
        let items: Vec<String> = metadata
            .iter()
            .map(|(k, v)| format!("\"{}\":\"{}\"", escape(k), escape(v)))
            .collect();
        parts.push(format!("\"__metadata__\":{{{}}}", items.join(",")));
    }
    let mut header = format!("{{{}}}", parts.join(","));
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for (_, _, values) in tensors {
        for v in values.iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(path, bytes)
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
