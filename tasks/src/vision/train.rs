//! The baseline's training recipe and the [`Baseline`] of both image tasks.
//!
//! MLGym's recipe (HF `Trainer` defaults): AdamW (β 0.9/0.999, ε 1e-8, weight decay 0.01
//! on weights, none on biases), lr 5e-5 with 500 linear warm-up steps then linear decay
//! to 0, 10 epochs, batch 64, evaluation every epoch, best epoch by evaluation loss. One
//! change: MLGym evaluated (and so selected the epoch) on the *test* split; we hold out a
//! validation split of the training data (10%, drawn with the seed) and never look at
//! the test labels. `--quick` trains on at most 2,048 images for 5 epochs at lr 2e-3 with
//! 10% warm-up: a check of the pipeline, not of the recipe.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use super::data::{load_public, Arrays, Images};
use super::evaluate::SUBMISSION;
use super::model::{batch, Cnn};
use crate::datasets::registry::DatasetSpec;
use crate::datasets::stage::write_atomic;
use crate::evaluator::{Baseline, BaselineContext, EvalError};
use crate::rng::Rng;

/// Hyper-parameters of a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// Passes over the training split.
    pub epochs: usize,
    /// Images per step.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps.
    pub warmup: usize,
    /// AdamW weight decay (weights only).
    pub weight_decay: f64,
    /// Fraction of the training images held out for choosing the best epoch.
    pub val_fraction: f64,
    /// Use at most this many training images (before the validation split).
    pub max_images: Option<usize>,
}

impl Recipe {
    /// MLGym's recipe.
    pub fn mlgym() -> Recipe {
        Recipe {
            epochs: 10,
            batch: 64,
            lr: 5e-5,
            warmup: 500,
            weight_decay: 0.01,
            val_fraction: 0.1,
            max_images: None,
        }
    }

    /// The reduced recipe of `--quick`.
    pub fn quick() -> Recipe {
        Recipe {
            epochs: 5,
            batch: 64,
            lr: 2e-3,
            warmup: 0,
            weight_decay: 0.01,
            val_fraction: 0.1,
            max_images: Some(2048),
        }
    }

    /// Learning rate at optimizer step `step` (0-based) of `total`: HF's
    /// `get_linear_schedule_with_warmup`.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        let warmup = if self.warmup == 0 && self.max_images.is_some() {
            total / 10
        } else {
            self.warmup
        };
        if step < warmup {
            return self.lr * step as f64 / warmup.max(1) as f64;
        }
        self.lr
            * (total.saturating_sub(step) as f64 / total.saturating_sub(warmup).max(1) as f64)
                .max(0.0)
    }
}

/// One epoch's numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochStats {
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss.
    pub val_loss: f64,
    /// Validation accuracy.
    pub val_accuracy: f64,
}

/// What training did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// Per epoch.
    pub epochs: Vec<EpochStats>,
    /// The epoch kept (0-based): lowest validation loss.
    pub best_epoch: usize,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Wall-clock seconds of training.
    pub seconds: f64,
}

fn internal(e: candle_core::Error) -> EvalError {
    EvalError::Internal(format!("baseline training: {e}"))
}

/// Mean loss and accuracy of `model` on images `idx` of `split`.
fn evaluate(
    model: &Cnn,
    spec: &DatasetSpec,
    split: &Images,
    idx: &[usize],
    bs: usize,
) -> candle_core::Result<(f64, f64)> {
    let (mut loss, mut hits) = (0.0f64, 0usize);
    for chunk in idx.chunks(bs) {
        let x = batch(&split.pixels, chunk, spec.height, spec.width, spec.channels)?;
        let y: Vec<u32> = chunk.iter().map(|&i| u32::from(split.labels[i])).collect();
        let logits = model.forward(&x)?.detach();
        let yt = Tensor::from_vec(y.clone(), chunk.len(), &Device::Cpu)?;
        loss += f64::from(candle_nn::loss::cross_entropy(&logits, &yt)?.to_scalar::<f32>()?)
            * chunk.len() as f64;
        let pred = logits.argmax(1)?.to_vec1::<u32>()?;
        hits += pred.iter().zip(&y).filter(|(a, b)| a == b).count();
    }
    let n = idx.len().max(1) as f64;
    Ok((loss / n, hits as f64 / n))
}

/// Predicted labels of every image of `split`.
pub fn predict(
    model: &Cnn,
    spec: &DatasetSpec,
    split: &Images,
    bs: usize,
) -> candle_core::Result<Vec<u8>> {
    let idx: Vec<usize> = (0..split.len).collect();
    let mut out = Vec::with_capacity(split.len);
    for chunk in idx.chunks(bs) {
        let x = batch(&split.pixels, chunk, spec.height, spec.width, spec.channels)?;
        let pred = model.forward(&x)?.detach().argmax(1)?.to_vec1::<u32>()?;
        out.extend(pred.into_iter().map(|p| p as u8));
    }
    Ok(out)
}

/// One optimizer step on `idx`; returns the batch loss.
pub fn train_step(
    model: &Cnn,
    opts: &mut [AdamW; 2],
    split: &Images,
    idx: &[usize],
    spec: &DatasetSpec,
) -> candle_core::Result<f32> {
    let x = batch(&split.pixels, idx, spec.height, spec.width, spec.channels)?;
    let y: Vec<u32> = idx.iter().map(|&i| u32::from(split.labels[i])).collect();
    let yt = Tensor::from_vec(y, idx.len(), &Device::Cpu)?;
    let loss = candle_nn::loss::cross_entropy(&model.forward(&x)?, &yt)?;
    let grads = loss.backward()?;
    for o in opts.iter_mut() {
        o.step(&grads)?;
    }
    loss.to_dtype(DType::F32)?.to_scalar::<f32>()
}

/// The two AdamW optimizers of `model` (decayed weights, undecayed biases).
pub fn optimizers(model: &Cnn, recipe: &Recipe) -> candle_core::Result<[AdamW; 2]> {
    let (weights, biases) = model.params();
    let p = |wd| ParamsAdamW {
        lr: 0.0,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: wd,
    };
    Ok([
        AdamW::new(weights, p(recipe.weight_decay))?,
        AdamW::new(biases, p(0.0))?,
    ])
}

/// Trains a fresh network on `arrays.train` with `recipe` and `seed`, keeping the epoch
/// with the lowest validation loss.
pub fn train(
    spec: &DatasetSpec,
    arrays: &Arrays,
    recipe: &Recipe,
    seed: u64,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(Cnn, TrainReport), EvalError> {
    let start = Instant::now();
    let train_split = &arrays.train;
    let mut order: Vec<usize> = (0..train_split.len).collect();
    Rng::stream(seed, 1).shuffle(&mut order);
    if let Some(m) = recipe.max_images {
        order.truncate(m);
    }
    let n_val = ((order.len() as f64 * recipe.val_fraction).ceil() as usize)
        .min(order.len().saturating_sub(1));
    let (val_idx, fit_idx) = order.split_at(n_val);
    let (val_idx, mut fit_idx) = (val_idx.to_vec(), fit_idx.to_vec());
    if fit_idx.is_empty() {
        return Err(EvalError::DataMissing(format!(
            "{}: no training images",
            spec.name
        )));
    }
    let model = Cnn::new(
        spec.height,
        spec.width,
        spec.channels,
        spec.classes.len(),
        &mut Rng::stream(seed, 0),
    )
    .map_err(internal)?;
    let mut opts = optimizers(&model, recipe).map_err(internal)?;
    let steps_per_epoch = fit_idx.len().div_ceil(recipe.batch);
    let total = steps_per_epoch * recipe.epochs;
    progress(&format!(
        "training on {} images, validating on {}; {} epochs x {steps_per_epoch} steps of {}",
        fit_idx.len(),
        val_idx.len(),
        recipe.epochs,
        recipe.batch
    ));
    let every = if recipe.max_images.is_some() { 10 } else { 100 };
    let mut report = TrainReport {
        epochs: Vec::new(),
        best_epoch: 0,
        steps: 0,
        seconds: 0.0,
    };
    let mut best: Option<(f64, Vec<Tensor>)> = None;
    let mut window = (Instant::now(), 0usize);
    for epoch in 0..recipe.epochs {
        Rng::stream(seed, 100 + epoch as u64).shuffle(&mut fit_idx);
        let mut loss_sum = 0.0f64;
        for idx in fit_idx.chunks(recipe.batch) {
            let lr = recipe.lr_at(report.steps, total);
            for o in opts.iter_mut() {
                o.set_learning_rate(lr);
            }
            let loss = train_step(&model, &mut opts, train_split, idx, spec).map_err(internal)?;
            loss_sum += f64::from(loss);
            report.steps += 1;
            window.1 += 1;
            if report.steps.is_multiple_of(every) {
                let rate = window.1 as f64 / window.0.elapsed().as_secs_f64().max(1e-9);
                progress(&format!(
                    "epoch {}/{} step {}/{total} loss {loss:.4} lr {lr:.2e} {rate:.1} steps/s",
                    epoch + 1,
                    recipe.epochs,
                    report.steps
                ));
                window = (Instant::now(), 0);
            }
        }
        let (val_loss, val_accuracy) =
            evaluate(&model, spec, train_split, &val_idx, 256).map_err(internal)?;
        let improved = best.as_ref().is_none_or(|(b, _)| val_loss < *b);
        if improved {
            best = Some((val_loss, model.snapshot().map_err(internal)?));
            report.best_epoch = epoch;
        }
        report.epochs.push(EpochStats {
            train_loss: loss_sum / steps_per_epoch as f64,
            val_loss,
            val_accuracy,
        });
        progress(&format!(
            "epoch {}/{}: train loss {:.4}, validation loss {val_loss:.4}, validation accuracy {val_accuracy:.4}{}",
            epoch + 1,
            recipe.epochs,
            loss_sum / steps_per_epoch as f64,
            if improved { " (best so far)" } else { "" }
        ));
    }
    if let Some((_, snap)) = &best {
        model.restore(snap).map_err(internal)?;
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok((model, report))
}

/// The native baseline of both image tasks: MLGym's CNN and recipe, in candle.
#[derive(Debug)]
pub struct CnnBaseline {
    /// The task's dataset.
    pub spec: &'static DatasetSpec,
}

impl Baseline for CnnBaseline {
    fn run(&self, ctx: &BaselineContext<'_>) -> Result<(), EvalError> {
        let arrays = load_public(self.spec, ctx.data_root)?;
        let recipe = if ctx.quick {
            Recipe::quick()
        } else {
            Recipe::mlgym()
        };
        let (model, report) = train(self.spec, &arrays, &recipe, ctx.seed, ctx.progress)?;
        (ctx.progress)(&format!(
            "kept epoch {} of {} ({} steps in {:.0} s)",
            report.best_epoch + 1,
            recipe.epochs,
            report.steps,
            report.seconds
        ));
        let pred = predict(&model, self.spec, &arrays.test, 256).map_err(internal)?;
        let mut text = String::from("label\n");
        for p in pred {
            text.push_str(&format!("{p}\n"));
        }
        let path = ctx.out_dir.join(SUBMISSION);
        write_atomic(&path, text.as_bytes()).map_err(|e| EvalError::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_hf_linear_with_warmup() {
        let r = Recipe::mlgym();
        assert_eq!(r.lr_at(0, 8440), 0.0);
        assert!((r.lr_at(250, 8440) - 2.5e-5).abs() < 1e-12);
        assert!((r.lr_at(500, 8440) - 5e-5).abs() < 1e-12);
        assert!((r.lr_at(8440, 8440)).abs() < 1e-15);
        assert!((r.lr_at(4470, 8440) - 2.5e-5).abs() < 1e-12);
    }
}
