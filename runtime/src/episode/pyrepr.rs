//! Python-style `repr` of metric dictionaries, as MLGym prints them in observations
//! (`{'Score': 1.0226699113845825}`), so that agents and tools see the same text.

use std::collections::BTreeMap;

/// Python's `repr(float)`: shortest round-trip digits, scientific notation outside
/// 1e-4 <= |x| < 1e16, `inf`, `nan`.
pub fn float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let a = x.abs();
    if (1e-4..1e16).contains(&a) {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        // Rust's `{:e}` gives the shortest digits as `1.5e-7`; Python writes `1.5e-07`.
        let s = format!("{x:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ("-", d),
            None => ("+", exp),
        };
        format!("{mant}e{sign}{digits:0>2}")
    }
}

/// Python's `repr(str)` for simple keys (single quotes; escapes quotes and backslashes).
pub fn string(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `repr` of a dict of floats in the given order.
pub fn dict<'a>(items: impl IntoIterator<Item = (&'a String, &'a f64)>) -> String {
    let parts: Vec<String> = items
        .into_iter()
        .map(|(k, v)| format!("{}: {}", string(k), float(*v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// `repr` of a metric map.
pub fn metrics(m: &BTreeMap<String, f64>) -> String {
    dict(m.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        assert_eq!(float(1.0226699113845825), "1.0226699113845825");
        assert_eq!(float(24000.0), "24000.0");
        assert_eq!(float(-0.24797001481056213), "-0.24797001481056213");
        assert_eq!(float(1.5e-7), "1.5e-07");
        assert_eq!(float(1e20), "1e+20");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(f64::NAN), "nan");
    }

    #[test]
    fn dicts_print_like_python() {
        let mut m = BTreeMap::new();
        m.insert("r2".to_string(), 0.5);
        m.insert("rmse".to_string(), 30340.111853413255);
        assert_eq!(metrics(&m), "{'r2': 0.5, 'rmse': 30340.111853413255}");
    }
}
