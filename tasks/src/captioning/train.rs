//! The native baseline of imageCaptioningCOCO (`mlgym baseline --task
//! imageCaptioningCOCO`): MLGym's recipe (mlgym-spec §2.5.4) in candle, on the CPU.
//!
//! 1. Vocabulary from the training captions ([`super::vocab`]: words seen ≥ 5 times).
//! 2. The staged ResNet-50 ([`super::encoder`], frozen) encodes every image once to its
//!    pooled 2048-d feature ([`super::features`]), kept in memory for all epochs.
//! 3. The decoder ([`super::decoder`]: linear 256 + batch norm, embedding 256, LSTM 512)
//!    is trained with teacher forcing for 2 epochs, batch 128, Adam lr 1e-3; each epoch
//!    visits every training image once with one of its captions drawn at random
//!    (captions cut to 30 words).
//! 4. A validation check (corpus BLEU on up to 500 val images), then greedy decoding of
//!    30 tokens for every test image, written to `submission.csv` atomically.
//!
//! Differences from MLGym: the word splitter (see [`super::vocab`]), the resize filter
//! (see [`super::features`]), a final batch of a single image is skipped (PyTorch's batch
//! norm refuses it), and the score is the evaluator's corpus BLEU on the test split.
//! `--quick` ([`Recipe::quick`]): 64 training images, 3 epochs of batch 16, 16
//! validation images — a check of the pipeline. Every test image is still captioned
//! (the submission must be complete), so on the real data its time is dominated by
//! encoding the test split. Same data, weights and seed ⇒ the same `submission.csv`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use super::data::{self, read_parquet, Captioned, TEST_LIST};
use super::decoder::{Captioner, DecoderConfig};
use super::encoder::ResNetEncoder;
use super::evaluate::{score, PRIMARY};
use super::features::{encode_all, Features};
use super::resnet;
use super::submission::SUBMISSION;
use super::vocab::Vocab;
use crate::datasets::stage::write_atomic;
use crate::datasets::DataError;
use crate::evaluator::{Baseline, BaselineContext, EvalError};
use crate::rng::Rng;
use crate::tabular::csv;

/// Hyper-parameters of the baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per step.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Embedding (and projected feature) size.
    pub embed: usize,
    /// LSTM hidden size.
    pub hidden: usize,
    /// A word enters the vocabulary when seen at least this often.
    pub min_count: usize,
    /// Captions are cut to this many words; decoding produces this many tokens.
    pub max_words: usize,
    /// Images are resized to `image_size × image_size`.
    pub image_size: u32,
    /// Batch-norm momentum of the projected feature.
    pub bn_momentum: f64,
    /// Images per encoder forward pass.
    pub encode_batch: usize,
    /// Train on at most this many images (a seeded subset).
    pub max_train_images: Option<usize>,
    /// Validation images decoded for the BLEU check (0: none).
    pub val_images: usize,
}

impl Recipe {
    /// MLGym's recipe.
    pub fn mlgym() -> Recipe {
        Recipe {
            epochs: 2,
            batch: 128,
            lr: 1e-3,
            embed: 256,
            hidden: 512,
            min_count: 5,
            max_words: 30,
            image_size: 224,
            bn_momentum: 0.01,
            encode_batch: 16,
            max_train_images: None,
            val_images: 500,
        }
    }

    /// The smoke run of `--quick`.
    pub fn quick() -> Recipe {
        Recipe {
            epochs: 3,
            batch: 16,
            max_train_images: Some(64),
            val_images: 16,
            ..Recipe::mlgym()
        }
    }
}

/// Where the baseline reads its inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inputs {
    /// The COCO folder the agent sees as `data/` (parquet files, image folders,
    /// `test_images.csv`).
    pub coco: PathBuf,
    /// The encoder's weights (torchvision ResNet state dict, safetensors).
    pub weights: PathBuf,
}

impl Inputs {
    /// The staged COCO data and ResNet-50 under the data root, or the "not staged"
    /// error that says which import to run.
    pub fn staged(root: &Path) -> Result<Inputs, EvalError> {
        data::check_staged(root)
            .map_err(|why| EvalError::DataMissing(format!("{why}; {}", data::how_to_stage())))?;
        resnet::check_staged(root).map_err(|why| {
            EvalError::DataMissing(format!(
                "{why}; the captioning baseline needs the ImageNet ResNet-50: {}",
                resnet::how_to_stage()
            ))
        })?;
        Ok(Inputs {
            coco: data::dataset_dir(root).join("public"),
            weights: resnet::dir(root).join(resnet::FILE),
        })
    }
}

/// What the baseline did.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptionReport {
    /// Mean training loss of each epoch.
    pub epoch_losses: Vec<f64>,
    /// Optimizer steps.
    pub steps: usize,
    /// Vocabulary size, specials included.
    pub vocab: usize,
    /// Training images used.
    pub train_images: usize,
    /// Corpus BLEU (0–1) on the validation images, when checked.
    pub val_bleu: Option<f64>,
    /// Seconds spent encoding images (all splits).
    pub encode_seconds: f64,
    /// Images encoded.
    pub images_encoded: usize,
    /// Seconds spent training the decoder.
    pub train_seconds: f64,
}

fn internal(what: &'static str) -> impl Fn(candle_core::Error) -> EvalError {
    move |e| EvalError::Internal(format!("captioning baseline, {what}: {e}"))
}

fn data_error(e: DataError) -> EvalError {
    EvalError::DataMissing(format!("{e}; import coco again"))
}

/// The test image names of `coco/test_images.csv`.
fn test_names(coco: &Path) -> Result<Vec<String>, EvalError> {
    let path = coco.join(TEST_LIST);
    let bytes = std::fs::read(&path).map_err(|e| {
        EvalError::DataMissing(format!(
            "cannot read {} ({e}); {}",
            path.display(),
            data::how_to_stage()
        ))
    })?;
    let table = csv::parse(&bytes).map_err(|e| {
        EvalError::DataMissing(format!("{}: {e}; import coco again", path.display()))
    })?;
    let col = table.column_index("file_name").ok_or_else(|| {
        EvalError::DataMissing(format!(
            "{} has no `file_name` column; import coco again",
            path.display()
        ))
    })?;
    Ok(table
        .records
        .into_iter()
        .map(|mut r| r.fields.swap_remove(col))
        .collect())
}

/// Runs the encoder over the images `names` of the `split` folder, timing it.
struct Encoding<'a> {
    encoder: &'a ResNetEncoder,
    recipe: &'a Recipe,
    progress: &'a (dyn Fn(&str) + Sync),
    seconds: f64,
    images: usize,
}

impl Encoding<'_> {
    fn run(&mut self, coco: &Path, split: &str, names: &[&str]) -> Result<Features, EvalError> {
        let start = Instant::now();
        let paths: Vec<PathBuf> = names.iter().map(|n| coco.join(split).join(n)).collect();
        let f = encode_all(
            self.encoder,
            &paths,
            self.recipe.image_size,
            self.recipe.encode_batch,
            split,
            self.progress,
        )?;
        self.seconds += start.elapsed().as_secs_f64();
        self.images += names.len();
        Ok(f)
    }
}

/// Greedy captions of every row of `feats`.
fn caption_all(
    model: &Captioner,
    vocab: &Vocab,
    feats: &Features,
    recipe: &Recipe,
) -> Result<Vec<String>, EvalError> {
    let idx: Vec<usize> = (0..feats.len()).collect();
    let mut out = Vec::with_capacity(idx.len());
    for chunk in idx.chunks(recipe.batch.max(1)) {
        let x = feats.rows(chunk).map_err(internal("decoding"))?;
        let ids = model
            .generate(&x, recipe.max_words)
            .map_err(internal("decoding"))?;
        out.extend(ids.iter().map(|s| vocab.decode(s)));
    }
    Ok(out)
}

/// Trains the decoder on `inputs` and writes `out_dir/submission.csv`.
pub fn train_and_caption(
    inputs: &Inputs,
    recipe: &Recipe,
    seed: u64,
    out_dir: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<CaptionReport, EvalError> {
    let coco = &inputs.coco;
    let mut train = read_parquet(&coco.join("train_images.parquet")).map_err(data_error)?;
    if let Some(m) = recipe.max_train_images {
        Rng::stream(seed, 0).shuffle(&mut train);
        train.truncate(m);
    }
    let vocab = Vocab::build(
        train
            .iter()
            .flat_map(|r| r.captions.iter().map(String::as_str)),
        recipe.min_count,
    );
    let encoder = ResNetEncoder::load(&inputs.weights)?;
    progress(&format!(
        "{} training images, vocabulary of {} words (seen >= {} times); encoder {:?}, {}-d features",
        train.len(),
        vocab.len(),
        recipe.min_count,
        encoder.config.blocks,
        encoder.config.feature_dim()
    ));
    let mut enc = Encoding {
        encoder: &encoder,
        recipe,
        progress,
        seconds: 0.0,
        images: 0,
    };
    let names: Vec<&str> = train.iter().map(|r| r.file_name.as_str()).collect();
    let feats = enc.run(coco, "train", &names)?;
    let config = DecoderConfig {
        feature_dim: encoder.config.feature_dim(),
        embed: recipe.embed,
        hidden: recipe.hidden,
        vocab: vocab.len(),
        bn_momentum: recipe.bn_momentum,
    };
    let mut model = Captioner::new(config, &mut Rng::stream(seed, 1)).map_err(internal("init"))?;
    let (epoch_losses, steps, train_seconds) =
        fit(&mut model, &vocab, &train, &feats, recipe, seed, progress)?;

    let val_bleu = if recipe.val_images > 0 {
        let mut val = read_parquet(&coco.join("val_images.parquet")).map_err(data_error)?;
        val.truncate(recipe.val_images);
        let names: Vec<&str> = val.iter().map(|r| r.file_name.as_str()).collect();
        let vf = enc.run(coco, "val", &names)?;
        let caps = caption_all(&model, &vocab, &vf, recipe)?;
        let bleu = score(&caps, &val, seed)[PRIMARY];
        progress(&format!(
            "validation: corpus BLEU-4 {bleu:.4} on {} images",
            val.len()
        ));
        Some(bleu)
    } else {
        None
    };

    let test = test_names(coco)?;
    let names: Vec<&str> = test.iter().map(String::as_str).collect();
    let tf = enc.run(coco, "test", &names)?;
    let caps = caption_all(&model, &vocab, &tf, recipe)?;
    let mut text = String::new();
    csv::write_record(&mut text, &["file_name", "caption"]);
    for (n, c) in test.iter().zip(&caps) {
        csv::write_record(&mut text, &[n.as_str(), c.as_str()]);
    }
    let path = out_dir.join(SUBMISSION);
    write_atomic(&path, text.as_bytes()).map_err(|e| EvalError::Internal(e.to_string()))?;
    progress(&format!(
        "wrote {} ({} captions)",
        path.display(),
        caps.len()
    ));
    Ok(CaptionReport {
        epoch_losses,
        steps,
        vocab: vocab.len(),
        train_images: train.len(),
        val_bleu,
        encode_seconds: enc.seconds,
        images_encoded: enc.images,
        train_seconds,
    })
}

/// The training loop: per-epoch mean losses, steps, seconds.
fn fit(
    model: &mut Captioner,
    vocab: &Vocab,
    train: &[Captioned],
    feats: &Features,
    recipe: &Recipe,
    seed: u64,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(Vec<f64>, usize, f64), EvalError> {
    let start = Instant::now();
    let params = ParamsAdamW {
        lr: recipe.lr,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    let mut opt = AdamW::new(model.params(), params).map_err(internal("optimizer"))?;
    let mut losses = Vec::with_capacity(recipe.epochs);
    let mut steps = 0;
    let per_epoch = train.len().div_ceil(recipe.batch.max(1));
    for epoch in 0..recipe.epochs {
        let epoch_start = Instant::now();
        let mut order: Vec<usize> = (0..train.len()).collect();
        Rng::stream(seed, 100 + epoch as u64).shuffle(&mut order);
        let mut pick = Rng::stream(seed, 200 + epoch as u64);
        let (mut sum, mut batches, mut seen) = (0.0f64, 0usize, 0usize);
        let mut last = Instant::now();
        for idx in order.chunks(recipe.batch.max(1)) {
            // Batch norm needs two images (PyTorch raises on one).
            if idx.len() < 2 {
                continue;
            }
            let tokens: Vec<Vec<u32>> = idx
                .iter()
                .map(|&i| {
                    let caps = &train[i].captions;
                    let k = pick.below(caps.len() as u64) as usize;
                    vocab.encode(&caps[k], recipe.max_words)
                })
                .collect();
            let x = feats.rows(idx).map_err(internal("batch"))?;
            let loss = model.loss(&x, &tokens).map_err(internal("forward"))?;
            opt.backward_step(&loss).map_err(internal("backward"))?;
            let l = f64::from(loss.to_scalar::<f32>().map_err(internal("loss"))?);
            sum += l;
            batches += 1;
            seen += idx.len();
            steps += 1;
            if last.elapsed().as_secs_f64() >= 10.0 {
                progress(&format!(
                    "epoch {}/{} step {batches}/{per_epoch} loss {l:.4} ({:.0} images/s)",
                    epoch + 1,
                    recipe.epochs,
                    seen as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9)
                ));
                last = Instant::now();
            }
        }
        let mean = sum / batches.max(1) as f64;
        losses.push(mean);
        progress(&format!(
            "epoch {}/{}: mean loss {mean:.4} over {batches} steps ({:.0} images/s)",
            epoch + 1,
            recipe.epochs,
            seen as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9)
        ));
    }
    Ok((losses, steps, start.elapsed().as_secs_f64()))
}

/// [`Baseline`] of imageCaptioningCOCO.
#[derive(Debug)]
pub struct CaptionBaseline;

impl Baseline for CaptionBaseline {
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError> {
        let inputs = Inputs::staged(ctx.data_root)?;
        let recipe = if ctx.quick {
            Recipe::quick()
        } else {
            Recipe::mlgym()
        };
        let r = train_and_caption(&inputs, &recipe, ctx.seed, ctx.out_dir, ctx.progress)?;
        (ctx.progress)(&format!(
            "encoded {} images in {:.1} s ({:.1} images/s); trained {} steps in {:.1} s",
            r.images_encoded,
            r.encode_seconds,
            r.images_encoded as f64 / r.encode_seconds.max(1e-9),
            r.steps,
            r.train_seconds
        ));
        Ok(())
    }
}
