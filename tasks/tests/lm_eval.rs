//! The evaluator on synthetic data: an all-zero head scores exactly ln(vocab); the
//! batched candle loss equals an independent per-token reference to 1e-5 (MLGym's
//! architecture and a config with every option changed); submissions with a bad config,
//! missing, extra or mis-shaped tensors, NaN weights or NaN outputs are refused with the
//! tensor or field named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lm_support;

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use lm_support::*;
use mlgym_tasks::lm::config::ModelConfig;
use mlgym_tasks::lm::evaluate::{load_submission, mean_loss, parse_val_tokens, EvalOptions};
use mlgym_tasks::lm::model::{init_weights, Gpt};
use mlgym_tasks::lm::scoring::evaluate_dir;
use mlgym_tasks::lm::{weights, LmError, CONFIG_FILE, MODEL_FILE};
use mlgym_tasks::rng::Rng;
use mlgym_tasks::EvalError;

fn loss_of(
    cfg: &ModelConfig,
    w: &BTreeMap<String, Tensor>,
    tokens: &[u16],
    opts: &EvalOptions,
) -> f64 {
    let m = Gpt::new(cfg, w, DType::F32).unwrap();
    mean_loss(&m, tokens, opts, &Device::Cpu, &|_, _| {})
        .unwrap()
        .loss
}

fn opts(seq: usize, batch: usize, head_rows: usize) -> EvalOptions {
    EvalOptions {
        seq_len: seq,
        batch,
        head_rows,
    }
}

#[test]
fn an_all_zero_head_scores_ln_vocab() {
    for vocab in [64usize, 50_304] {
        let cfg = ModelConfig::small(vocab, 1, 2, 16);
        // Fresh weights: random embedding and blocks, zero-initialised head (MLGym's init).
        let w = init_weights(&cfg, &mut Rng::new(3)).unwrap();
        let tokens = markov_tokens(2 * 64 + 1, 64, 9);
        let loss = loss_of(&cfg, &w, &tokens, &opts(64, 2, 50));
        assert!(
            (loss - (vocab as f64).ln()).abs() < 1e-12,
            "{loss} vs {}",
            (vocab as f64).ln()
        );
    }
}

#[test]
fn evaluator_matches_a_per_token_reference() {
    let tokens = markov_tokens(3 * 48 + 1, 40, 4);
    for (name, cfg) in [("mlgym", tiny(40)), ("exotic", exotic(40))] {
        let w = random_weights(&cfg, 11, 0.5);
        let want = reference_loss(&cfg, &w, &tokens, 48);
        // Batching and head blocks change nothing.
        for o in [opts(48, 1, 48), opts(48, 2, 37), opts(48, 4, 1000)] {
            let got = loss_of(&cfg, &w, &tokens, &o);
            assert!(
                (got - want).abs() < 1e-5,
                "{name} {o:?}: {got} vs reference {want}"
            );
        }
    }
    // Every activation and position encoding on its own.
    use mlgym_tasks::lm::config::{Activation, Position};
    for act in [
        Activation::Relu,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
    ] {
        let cfg = ModelConfig {
            activation: act,
            position: Position::None,
            ..tiny(40)
        };
        let w = random_weights(&cfg, 12, 0.5);
        let (got, want) = (
            loss_of(&cfg, &w, &tokens, &opts(48, 3, 64)),
            reference_loss(&cfg, &w, &tokens, 48),
        );
        assert!((got - want).abs() < 1e-5, "{act:?}: {got} vs {want}");
    }
}

#[test]
fn evaluation_is_bit_identical_across_runs_and_batchings() {
    let cfg = tiny(40);
    let w = random_weights(&cfg, 5, 0.5);
    let tokens = markov_tokens(4 * 32 + 1, 40, 6);
    let a = loss_of(&cfg, &w, &tokens, &opts(32, 2, 32));
    let b = loss_of(&cfg, &w, &tokens, &opts(32, 2, 32));
    assert_eq!(a.to_bits(), b.to_bits());
}

fn write_submission(dir: &Path, cfg_text: &str, w: &BTreeMap<String, Tensor>) {
    std::fs::write(dir.join(CONFIG_FILE), cfg_text).unwrap();
    std::fs::write(dir.join(MODEL_FILE), weights::serialize(w).unwrap()).unwrap();
}

fn load_err(dir: &Path) -> String {
    load_submission(dir, &Device::Cpu).unwrap_err().to_string()
}

#[test]
fn bad_submissions_are_refused_naming_the_tensor_or_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny(40);
    let good = random_weights(&cfg, 1, 0.5);
    let text = cfg.to_json();

    let e = load_submission(dir.path(), &Device::Cpu).unwrap_err();
    assert!(
        matches!(EvalError::from(e), EvalError::SubmissionNotFound(m) if m.contains(CONFIG_FILE))
    );

    write_submission(dir.path(), &text, &good);
    load_submission(dir.path(), &Device::Cpu).unwrap();

    write_submission(
        dir.path(),
        &text.replace("\"n_head\": 2", "\"n_head\": 3"),
        &good,
    );
    assert!(load_err(dir.path()).contains("`n_embd`"));
    write_submission(dir.path(), "{\"vocab_size\": 40}", &good);
    assert!(load_err(dir.path()).contains("n_layer"));
    write_submission(dir.path(), &text.replace("\"relu2\"", "\"mish\""), &good);
    assert!(load_err(dir.path()).contains("mish"));

    let mut w = good.clone();
    w.remove("transformer.h.1.mlp.c_fc.weight");
    write_submission(dir.path(), &text, &w);
    let e = load_err(dir.path());
    assert!(
        e.contains("missing") && e.contains("`transformer.h.1.mlp.c_fc.weight`"),
        "{e}"
    );

    let mut w = good.clone();
    w.insert(
        "transformer.h.2.attn.c_q.weight".into(),
        Tensor::zeros((16, 16), DType::F32, &Device::Cpu).unwrap(),
    );
    write_submission(dir.path(), &text, &w);
    let e = load_err(dir.path());
    assert!(
        e.contains("`transformer.h.2.attn.c_q.weight`") && e.contains("not part of the model"),
        "{e}"
    );

    let mut w = good.clone();
    w.insert(
        "lm_head.weight".into(),
        Tensor::zeros((16, 40), DType::F32, &Device::Cpu).unwrap(),
    );
    write_submission(dir.path(), &text, &w);
    let e = load_err(dir.path());
    assert!(
        e.contains("`lm_head.weight` has shape [16, 40]") && e.contains("[40, 16]"),
        "{e}"
    );

    let mut w = good.clone();
    let mut v = vec![0.1f32; 16 * 16];
    v[17] = f32::NAN;
    w.insert(
        "transformer.h.0.attn.c_v.weight".into(),
        Tensor::from_vec(v, (16, 16), &Device::Cpu).unwrap(),
    );
    write_submission(dir.path(), &text, &w);
    let e = load_err(dir.path());
    assert!(
        e.contains("`transformer.h.0.attn.c_v.weight`") && e.contains("NaN"),
        "{e}"
    );

    std::fs::write(dir.path().join(MODEL_FILE), b"garbage").unwrap();
    assert!(load_err(dir.path()).contains("not a safetensors file"));

    // PyTorch's prefixes and bf16 weights are accepted.
    let prefixed: BTreeMap<String, Tensor> = good
        .iter()
        .map(|(k, t)| (format!("module._orig_mod.{k}"), t.clone()))
        .collect();
    let bytes = bf16_safetensors(&prefixed);
    std::fs::write(dir.path().join(MODEL_FILE), bytes).unwrap();
    std::fs::write(dir.path().join(CONFIG_FILE), &text).unwrap();
    load_submission(dir.path(), &Device::Cpu).unwrap();
}

fn bf16_safetensors(w: &BTreeMap<String, Tensor>) -> Vec<u8> {
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = w
        .iter()
        .map(|(k, t)| {
            // bf16 is the upper half of an f32.
            let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let b = v
                .iter()
                .flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes())
                .collect();
            (k.clone(), t.dims().to_vec(), b)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = data
        .iter()
        .map(|(k, s, b)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(
                    safetensors::tensor::Dtype::BF16,
                    s.clone(),
                    b,
                )
                .unwrap(),
            )
        })
        .collect();
    safetensors::tensor::serialize(views, None).unwrap()
}

#[test]
fn nan_outputs_and_small_vocabularies_are_refused() {
    let root = tempfile::tempdir().unwrap();
    stage_synthetic(root.path(), 64, 2 * 1024 + 1, 1, 3000);
    let dir = tempfile::tempdir().unwrap();
    // rms_norm of an all-zero embedding with eps 0 is 0/0.
    let cfg = ModelConfig {
        norm_eps: 0.0,
        ..ModelConfig::small(64, 1, 2, 16)
    };
    let mut w = random_weights(&cfg, 2, 0.5);
    w.insert(
        "transformer.wte.weight".into(),
        Tensor::zeros((64, 16), DType::F32, &Device::Cpu).unwrap(),
    );
    write_submission(dir.path(), &cfg.to_json(), &w);
    let e = evaluate_dir(dir.path(), root.path(), 1024).unwrap_err();
    assert!(
        matches!(&e, LmError::NonFinite(m) if m.contains("validation token 1 (window 0, position 0)")),
        "{e}"
    );

    let cfg = ModelConfig::small(32, 1, 2, 16);
    write_submission(dir.path(), &cfg.to_json(), &random_weights(&cfg, 2, 0.5));
    let e = evaluate_dir(dir.path(), root.path(), 1024)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`vocab_size`") && e.contains("too small"), "{e}");

    // A good one is scored, and more tokens than the shard holds is a data error.
    let cfg = ModelConfig::small(64, 1, 2, 16);
    write_submission(dir.path(), &cfg.to_json(), &random_weights(&cfg, 2, 0.5));
    let r = evaluate_dir(dir.path(), root.path(), 2048).unwrap();
    assert_eq!(r.tokens, 2048);
    assert!(r.loss.is_finite() && r.loss > 0.0);
    let e = evaluate_dir(dir.path(), root.path(), 3072).unwrap_err();
    assert!(matches!(EvalError::from(e), EvalError::DataMissing(_)));
}

#[test]
fn the_val_token_cap_rounds_to_whole_windows() {
    assert_eq!(parse_val_tokens("2048", 1024), Ok(2048));
    assert_eq!(parse_val_tokens("3000", 1024), Ok(2048));
    assert_eq!(parse_val_tokens("1_048_576", 1024), Ok(1_048_576));
    assert_eq!(parse_val_tokens("99999999999", 1024), Ok(10_485_760));
    assert!(parse_val_tokens("100", 1024)
        .unwrap_err()
        .contains("one window"));
    assert!(parse_val_tokens("lots", 1024).is_err());
}
