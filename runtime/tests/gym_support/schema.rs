//! A validator for the subset of JSON Schema that `docs/export-schema.json` and the
//! server's `openapi.json` use: `type` (string or list), `enum`, `required`,
//! `properties`, `additionalProperties` (bool or schema), `items`, `minItems`,
//! `minimum`, `oneOf` and local `$ref`s.

use serde_json::Value;

/// Validates `v` against `schema` (resolving `$ref`s in `root`) and returns the
/// problems. With `strict`, an object schema without `additionalProperties` allows no
/// property it does not describe, so a field added to a response but not to its
/// description is reported.
pub fn problems(root: &Value, schema: &Value, v: &Value, strict: bool) -> Vec<String> {
    let mut errs = Vec::new();
    check(root, schema, v, "$", strict, &mut errs);
    errs
}

fn check(root: &Value, schema: &Value, v: &Value, at: &str, strict: bool, errs: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let mut target = root;
        for part in r.trim_start_matches("#/").split('/') {
            target = &target[part];
        }
        assert!(target.is_object(), "unresolved $ref {r}");
        return check(root, target, v, at, strict, errs);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|o| problems(root, o, v, strict).is_empty())
            .count();
        if matching != 1 {
            errs.push(format!(
                "{at}: {v} matches {matching} of the oneOf schemas, not 1"
            ));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
            _ => panic!("bad type in schema at {at}"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => v.is_u64() || v.is_i64(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            other => panic!("unsupported type {other}"),
        });
        if !ok {
            errs.push(format!("{at}: {v} is not of type {types:?}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let (Some(min), Some(x)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if x < min {
            errs.push(format!("{at}: {x} < minimum {min}"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap();
            if !obj.contains_key(r) {
                errs.push(format!("{at}: required `{r}` is missing"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, x) in obj {
            let here = format!("{at}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(root, s, x, &here, strict, errs),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errs.push(format!("{at}: unexpected property `{k}`"))
                    }
                    Some(s @ Value::Object(_)) => check(root, s, x, &here, strict, errs),
                    None if strict && props.is_some() => {
                        errs.push(format!("{at}: property `{k}` is not described"))
                    }
                    _ => {}
                },
            }
        }
    }
    if let Some(a) = v.as_array() {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if (a.len() as u64) < min {
                errs.push(format!("{at}: fewer than {min} items"));
            }
        }
        if let Some(items) = schema.get("items") {
            for (i, x) in a.iter().enumerate() {
                check(root, items, x, &format!("{at}[{i}]"), strict, errs);
            }
        }
    }
}
