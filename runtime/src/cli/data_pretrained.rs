//! `mlgym data` for the pretrained-weight tasks: MultiNLI and bert-base-uncased
//! (naturalLanguageInferenceMNLI), MLGym's COCO captions and the ImageNet ResNet-50
//! (imageCaptioningCOCO). Each function is one operation of an entry of
//! [`super::data::DATASETS`]; reports are the JSON objects `import_text` and
//! `status_text` print.

use std::path::Path;

use anyhow::Context as _;
use mlgym_tasks::captioning::{data as coco, resnet};
use mlgym_tasks::nli::{asset as bert, data as mnli};
use serde_json::{json, Value};

/// `mlgym data import mnli DIR`.
pub fn import_mnli(src: &Path, root: &Path) -> anyhow::Result<Value> {
    let r = mnli::import(src, root).context("importing mnli")?;
    for n in &r.notes {
        eprintln!("note: {n}");
    }
    Ok(json!({
        "dataset": mnli::NAME,
        "dir": r.dir.display().to_string(),
        "changed": true,
        "files": r.manifest.files.iter().map(|f| json!({"path": f.path, "rows": f.rows, "sha256": f.sha256})).collect::<Vec<_>>(),
    }))
}

/// Whether MNLI is staged.
pub fn mnli_status(root: &Path) -> Result<Value, String> {
    let m = mnli::check_staged(root)?;
    Ok(json!({
        "files": m.files.iter().map(|f| json!({"path": f.path, "rows": f.rows})).collect::<Vec<_>>(),
    }))
}

/// `mlgym data verify mnli`.
pub fn verify_mnli(root: &Path) -> anyhow::Result<Value> {
    let checks = mnli::verify(root).context("verifying mnli")?;
    Ok(json!({ "dataset": mnli::NAME, "checks": checks }))
}

/// `mlgym data import bert-base-uncased DIR`.
pub fn import_bert(src: &Path, root: &Path) -> anyhow::Result<Value> {
    let (dir, m) = bert::import(src, root).context("importing bert-base-uncased")?;
    Ok(json!({
        "dataset": bert::NAME,
        "dir": dir.display().to_string(),
        "changed": true,
        "source": m.source,
        "files": m.files.iter().map(|f| json!({"path": f.name, "bytes": f.bytes, "sha256": f.sha256})).collect::<Vec<_>>(),
    }))
}

/// Whether bert-base-uncased is staged.
pub fn bert_status(root: &Path) -> Result<Value, String> {
    let m = bert::check_staged(root)?;
    Ok(json!({
        "hidden_size": m.hidden_size,
        "layers": m.layers,
        "files": m.files.iter().map(|f| json!({"path": f.name, "bytes": f.bytes})).collect::<Vec<_>>(),
    }))
}

/// `mlgym data verify bert-base-uncased`.
pub fn verify_bert(root: &Path) -> anyhow::Result<Value> {
    let checks = bert::verify(root).context("verifying bert-base-uncased")?;
    Ok(json!({ "dataset": bert::NAME, "checks": checks }))
}

fn coco_files(m: &coco::Manifest) -> Vec<Value> {
    m.splits
        .iter()
        .map(|(s, c)| json!({"path": format!("{s} images"), "rows": c.images, "captions": c.captions}))
        .collect()
}

/// `mlgym data import coco DIR`.
pub fn import_coco(src: &Path, root: &Path) -> anyhow::Result<Value> {
    let r = coco::import(src, root).context("importing coco")?;
    Ok(json!({
        "dataset": coco::NAME,
        "dir": r.dir.display().to_string(),
        "changed": true,
        "files": coco_files(&r.manifest),
    }))
}

/// Whether COCO is staged.
pub fn coco_status(root: &Path) -> Result<Value, String> {
    let m = coco::check_staged(root)?;
    Ok(json!({ "files": coco_files(&m) }))
}

/// `mlgym data verify coco`.
pub fn verify_coco(root: &Path) -> anyhow::Result<Value> {
    let checks = coco::verify(root).context("verifying coco")?;
    Ok(json!({ "dataset": coco::NAME, "checks": checks }))
}

/// `mlgym data import resnet50 FILE`.
pub fn import_resnet(src: &Path, root: &Path) -> anyhow::Result<Value> {
    let (dir, m) = resnet::import(src, root).context("importing resnet50")?;
    Ok(json!({
        "dataset": resnet::NAME,
        "dir": dir.display().to_string(),
        "changed": true,
        "files": [json!({"path": resnet::FILE, "bytes": m.bytes, "sha256": m.sha256})],
    }))
}

/// Whether the ResNet-50 weights are staged.
pub fn resnet_status(root: &Path) -> Result<Value, String> {
    let m = resnet::check_staged(root)?;
    Ok(json!({ "files": [json!({"path": resnet::FILE, "bytes": m.bytes})] }))
}

/// `mlgym data verify resnet50`.
pub fn verify_resnet(root: &Path) -> anyhow::Result<Value> {
    let checks = resnet::verify(root).context("verifying resnet50")?;
    Ok(json!({ "dataset": resnet::NAME, "checks": checks }))
}
