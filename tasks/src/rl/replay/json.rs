//! Small typed accessors over `serde_json::Value` that remember where they are, so that a
//! malformed trajectory line is reported with the exact field (`autoreset.state.pos`).

use serde_json::Value;

/// A field that is missing or has the wrong type or value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// Dotted path of the field within the line, e.g. `state.brick_map`.
    pub field: String,
    /// What is wrong with it, phrased to follow "field `x` ...".
    pub problem: String,
}

/// A JSON value and its dotted path within the line.
#[derive(Clone, Debug)]
pub(crate) struct Node<'a> {
    v: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    /// The whole line.
    pub fn root(v: &'a Value) -> Self {
        Node {
            v,
            path: String::new(),
        }
    }

    /// An error about this field.
    pub fn err(&self, problem: impl Into<String>) -> FieldError {
        FieldError {
            field: if self.path.is_empty() {
                "(line)".to_string()
            } else {
                self.path.clone()
            },
            problem: problem.into(),
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Field `key` of this object, or `None` when absent.
    pub fn opt(&self, key: &str) -> Option<Node<'a>> {
        self.v.get(key).map(|v| Node {
            v,
            path: self.child_path(key),
        })
    }

    /// Field `key` of this object.
    pub fn get(&self, key: &str) -> Result<Node<'a>, FieldError> {
        self.opt(key).ok_or_else(|| FieldError {
            field: self.child_path(key),
            problem: "is missing".to_string(),
        })
    }

    /// The keys of this object.
    pub fn keys(&self) -> Result<Vec<&'a str>, FieldError> {
        match self.v {
            Value::Object(m) => Ok(m.keys().map(String::as_str).collect()),
            _ => Err(self.err("must be an object")),
        }
    }

    /// This value as a string.
    pub fn str(&self) -> Result<&'a str, FieldError> {
        self.v.as_str().ok_or_else(|| self.err("must be a string"))
    }

    /// This value as an integer.
    pub fn i64(&self) -> Result<i64, FieldError> {
        self.v
            .as_i64()
            .ok_or_else(|| self.err(format!("must be an integer, found {}", self.v)))
    }

    /// This value as an integer in `lo..=hi`.
    pub fn int_in(&self, lo: i64, hi: i64) -> Result<i32, FieldError> {
        let x = self.i64()?;
        if x < lo || x > hi {
            return Err(self.err(format!("is {x}, outside {lo}..={hi}")));
        }
        Ok(x as i32)
    }

    /// This value as a number.
    pub fn f64(&self) -> Result<f64, FieldError> {
        self.v
            .as_f64()
            .ok_or_else(|| self.err(format!("must be a number, found {}", self.v)))
    }

    /// This value as a float32 (the JSON numbers are float32 values printed as doubles).
    pub fn f32(&self) -> Result<f32, FieldError> {
        Ok(self.f64()? as f32)
    }

    /// This value as a boolean.
    pub fn bool(&self) -> Result<bool, FieldError> {
        self.v
            .as_bool()
            .ok_or_else(|| self.err(format!("must be true or false, found {}", self.v)))
    }

    /// The elements of this array.
    pub fn items(&self) -> Result<Vec<Node<'a>>, FieldError> {
        let arr = self
            .v
            .as_array()
            .ok_or_else(|| self.err("must be an array"))?;
        Ok(arr
            .iter()
            .enumerate()
            .map(|(i, v)| Node {
                v,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    /// The elements of this array, which must have length `n`.
    pub fn items_n(&self, n: usize) -> Result<Vec<Node<'a>>, FieldError> {
        let items = self.items()?;
        if items.len() != n {
            return Err(self.err(format!("must have {n} elements, found {}", items.len())));
        }
        Ok(items)
    }

    /// This value as IEEE-754 float32 bits written as 8 hex digits.
    pub fn f32_bits(&self) -> Result<f32, FieldError> {
        let s = self.str()?;
        if s.len() != 8 {
            return Err(self.err(format!("must be 8 hex digits, found '{s}'")));
        }
        u32::from_str_radix(s, 16)
            .map(f32::from_bits)
            .map_err(|_| self.err(format!("must be 8 hex digits, found '{s}'")))
    }

    /// Field `key` as a float32, read from the exact bits in `bits_key` when present.
    pub fn f32_field(&self, key: &str, bits_key: &str) -> Result<f32, FieldError> {
        match self.opt(bits_key) {
            Some(b) => b.f32_bits(),
            None => self.get(key)?.f32(),
        }
    }

    /// Field `key` as a float32 array, read from the bits in `bits_key` when present.
    pub fn f32_vec(&self, key: &str, bits_key: &str) -> Result<Vec<f32>, FieldError> {
        match self.opt(bits_key) {
            Some(b) => b.items()?.iter().map(Node::f32_bits).collect(),
            None => self.get(key)?.items()?.iter().map(Node::f32).collect(),
        }
    }
}
