//! The pretrained bert-base-uncased staged under the data root: what the agent
//! fine-tunes (shown in its `data/`) and whose tokenizer the evaluator uses (MLGym's
//! evaluator tokenises with `bert-base-uncased`, not with the submission's files).
//!
//! `mlgym data import bert-base-uncased DIR` takes a Hugging Face model directory:
//! `config.json`, `model.safetensors` and `tokenizer.json`, or `vocab.txt` instead of
//! `tokenizer.json` (a BERT WordPiece tokenizer is then built from it, lower-casing unless
//! `tokenizer_config.json` says `"do_lower_case": false`). The model must load and run;
//! the file hashes are recorded so that `verify` detects later changes. Any BERT
//! checkpoint is accepted (no published hash is pinned), so that labs can stage a mirror
//! or, for smoke runs, a smaller BERT.
//!
//! Staged layout: `$MLGYM_DATA/bert-base-uncased/{config.json, model.safetensors,
//! tokenizer.json, manifest.json}`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, Model as _, Tokenizer};

use super::model::{encode_pair, pair_tokenizer};
use crate::staging::{read_manifest, replace_dir};
use crate::text::asset::{check_sizes, staged_file, StagedFile};
use crate::text::bert::{CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use crate::text::{BertEncoder, ModelDir, TextError};

/// Name on the command line and directory under the data root.
pub const NAME: &str = "bert-base-uncased";
const MANIFEST: &str = "manifest.json";
const VOCAB_FILE: &str = "vocab.txt";
const STAGED: [&str; 3] = [CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE];

/// `manifest.json` of the staged model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Where it was imported from.
    pub source: String,
    /// Hidden size, layers, vocabulary (for `status`).
    pub hidden_size: usize,
    /// Encoder layers.
    pub layers: usize,
    /// The staged files.
    pub files: Vec<StagedFile>,
}

/// The staged directory under `root`.
pub fn model_dir(root: &Path) -> PathBuf {
    root.join(NAME)
}

/// What to run to stage the model (for messages).
pub fn how_to_stage() -> String {
    format!("run `mlgym data import {NAME} DIR` with DIR holding the Hugging Face files of bert-base-uncased: config.json, model.safetensors and tokenizer.json (or vocab.txt)")
}

/// Builds bert-base-uncased's WordPiece tokenizer from `vocab.txt` into `out`.
fn tokenizer_from_vocab(vocab: &Path, src: &Path, out: &Path) -> Result<(), TextError> {
    let lowercase = std::fs::read(src.join("tokenizer_config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("do_lower_case").and_then(serde_json::Value::as_bool))
        .unwrap_or(true);
    let bad = |e: String| TextError::format(vocab, e);
    let vocab_str = vocab
        .to_str()
        .ok_or_else(|| bad("the path is not UTF-8".into()))?;
    let wp = WordPiece::from_file(vocab_str)
        .unk_token("[UNK]".into())
        .build()
        .map_err(|e| bad(format!("not a WordPiece vocabulary ({e})")))?;
    let id = |t: &str| {
        wp.token_to_id(t)
            .ok_or_else(|| bad(format!("has no `{t}` token: not a BERT vocabulary")))
    };
    let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
    let mut tok = Tokenizer::new(wp);
    tok.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
        .map_err(|e| bad(e.to_string()))?;
    tok.with_pre_tokenizer(Some(BertPreTokenizer));
    tok.with_post_processor(Some(BertProcessing::new(
        ("[SEP]".into(), sep),
        ("[CLS]".into(), cls),
    )));
    tok.with_decoder(Some(WordPieceDecoder::default()));
    let specials: Vec<AddedToken> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| AddedToken::from(*s, true))
        .collect();
    tok.add_special_tokens(specials)
        .map_err(|e| bad(e.to_string()))?;
    tok.save(out, false)
        .map_err(|e| TextError::format(out, format!("cannot write the tokenizer ({e})")))
}

/// Stages the BERT model of `src` under `root`.
pub fn import(src: &Path, root: &Path) -> Result<(PathBuf, Manifest), TextError> {
    let hint = "give the model's directory: config.json, model.safetensors and tokenizer.json (or vocab.txt)";
    // The tokenizer may also be built from vocab.txt, so it is checked here.
    let model = ModelDir::open_checkpoint(src, &src.join(TOKENIZER_FILE), hint)?;
    if !model.tokenizer.is_file() && !src.join(VOCAB_FILE).is_file() {
        return Err(TextError::Missing {
            path: model.tokenizer,
            hint: hint.into(),
        });
    }
    let dir = model_dir(root);
    let manifest = replace_dir(
        &dir,
        |tmp| stage_into(src, tmp),
        |p, e| TextError::write(p, e),
    )?;
    Ok((dir, manifest))
}

fn stage_into(src: &Path, tmp: &Path) -> Result<Manifest, TextError> {
    std::fs::create_dir_all(tmp).map_err(|e| TextError::write(tmp, e))?;
    for n in [CONFIG_FILE, WEIGHTS_FILE] {
        std::fs::copy(src.join(n), tmp.join(n)).map_err(|e| TextError::write(tmp.join(n), e))?;
    }
    if src.join(TOKENIZER_FILE).is_file() {
        std::fs::copy(src.join(TOKENIZER_FILE), tmp.join(TOKENIZER_FILE))
            .map_err(|e| TextError::write(tmp.join(TOKENIZER_FILE), e))?;
    } else {
        tokenizer_from_vocab(&src.join(VOCAB_FILE), src, &tmp.join(TOKENIZER_FILE))?;
    }
    // Prove that the files load and run together before staging them.
    let files = ModelDir::open(tmp)?;
    let encoder = BertEncoder::load(&files)?;
    let tok = pair_tokenizer(&files.tokenizer)?;
    let vocab = tok.get_vocab_size(true);
    let config = encoder.config();
    if vocab > config.vocab_size {
        return Err(TextError::format(
            src.join(TOKENIZER_FILE),
            format!("the vocabulary has {vocab} tokens but the model {}: the tokenizer belongs to another model", config.vocab_size),
        ));
    }
    let e = encode_pair(&tok, "A man is playing a guitar.", "Someone makes music.")?;
    let (ids, types, mask) =
        super::model::batch_tensors(&[&e], config.pad_token_id as u32, encoder.device())?;
    let hidden = encoder
        .forward(&ids, &types, &mask)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    if hidden.iter().any(|v| !v.is_finite()) {
        return Err(TextError::format(
            src.join(WEIGHTS_FILE),
            "the model produced non-finite values",
        ));
    }
    let files = STAGED
        .iter()
        .map(|n| staged_file(tmp, n))
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = Manifest {
        source: src.display().to_string(),
        hidden_size: config.hidden_size,
        layers: config.num_hidden_layers,
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| TextError::format(tmp.join(MANIFEST), e.to_string()))?;
    crate::datasets::stage::write_atomic(&tmp.join(MANIFEST), &json)
        .map_err(|e| TextError::format(tmp.join(MANIFEST), e.to_string()))?;
    Ok(manifest)
}

/// The staged model's manifest, checked: files present with their recorded sizes.
pub fn check_staged(root: &Path) -> Result<Manifest, String> {
    let dir = model_dir(root);
    let m: Manifest = read_manifest(&dir)?;
    check_sizes(&dir, &m.files)?;
    Ok(m)
}

/// Re-hashes the staged files; one line per check.
pub fn verify(root: &Path) -> Result<Vec<String>, TextError> {
    let m = check_staged(root)
        .map_err(|why| TextError::NotStaged(format!("{why}; {}", how_to_stage())))?;
    let dir = model_dir(root);
    let mut checks = Vec::new();
    for f in &m.files {
        let found = staged_file(&dir, &f.name)?;
        if found.sha256 != f.sha256 {
            return Err(TextError::format(
                dir.join(&f.name),
                format!(
                    "SHA-256 is {}, the manifest says {}: the file changed; import {NAME} again",
                    found.sha256, f.sha256
                ),
            ));
        }
        checks.push(format!(
            "{}: {} bytes, SHA-256 {}",
            f.name, f.bytes, f.sha256
        ));
    }
    Ok(checks)
}
