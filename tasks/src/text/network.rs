//! BERT's network (Hugging Face `BertModel`: embeddings, then self-attention layers) in
//! candle operations that all have backward passes, so that the same forward serves
//! evaluation and fine-tuning of every parameter.
//!
//! It performs the operations of candle-transformers' `BertModel` in the same order with
//! the same kernels, except the LayerNorm, which is [`super::layer_norm`] (same
//! arithmetic as candle's fused kernel, plus a backward pass): the outputs are equal bit
//! for bit (`tasks/tests/nli.rs` checks the tiny BERT and all-MiniLM-L6-v2).
//!
//! Training may pass a [`Dropout`] (Hugging Face's `hidden_dropout_prob` and
//! `attention_probs_dropout_prob` sites) whose masks come from the seeded [`Rng`];
//! evaluation passes none (what `model.eval()` does).

use candle_core::{Module, Tensor, D};
use candle_nn::{Embedding, Linear, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};

use super::layer_norm::LayerNorm;
use crate::rng::Rng;

/// Seeded dropout for training: each call zeroes elements with probability `p` and
/// scales the rest by `1/(1−p)`, drawing the mask from its own [`Rng`].
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    rng: Rng,
}

impl Dropout {
    /// Dropout with probability `p` (0 disables it), masks drawn from `seed`.
    pub fn new(p: f64, seed: u64) -> Dropout {
        Dropout {
            p: p.clamp(0.0, 1.0),
            rng: Rng::new(seed),
        }
    }

    /// `x` with the elements of a fresh mask dropped.
    pub fn apply(&mut self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = (1.0 - self.p) as f32;
        let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
        let n = x.elem_count();
        let mut mask = Vec::with_capacity(n);
        // Two 32-bit draws per u64: the mask of a bert-base step has ~10^8 elements.
        let threshold = (f64::from(u32::MAX) * self.p) as u32;
        while mask.len() < n {
            let r = self.rng.next_u64();
            for half in [r as u32, (r >> 32) as u32] {
                if mask.len() < n {
                    mask.push(if half < threshold { 0.0 } else { scale });
                }
            }
        }
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x.mul(&mask)
    }
}

/// Applies `drop` when training.
fn drop(x: Tensor, drop: &mut Option<&mut Dropout>) -> candle_core::Result<Tensor> {
    match drop {
        Some(d) => d.apply(&x),
        None => Ok(x),
    }
}

fn linear(i: usize, o: usize, vb: VarBuilder<'_>) -> candle_core::Result<Linear> {
    candle_nn::linear(i, o, vb)
}

struct Embeddings {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    norm: LayerNorm,
}

impl Embeddings {
    fn load(vb: VarBuilder<'_>, c: &Config) -> candle_core::Result<Embeddings> {
        Ok(Embeddings {
            word: candle_nn::embedding(c.vocab_size, c.hidden_size, vb.pp("word_embeddings"))?,
            position: candle_nn::embedding(
                c.max_position_embeddings,
                c.hidden_size,
                vb.pp("position_embeddings"),
            )?,
            token_type: candle_nn::embedding(
                c.type_vocab_size,
                c.hidden_size,
                vb.pp("token_type_embeddings"),
            )?,
            norm: LayerNorm::load(c.hidden_size, c.layer_norm_eps, vb.pp("LayerNorm"))?,
        })
    }

    fn forward(&self, ids: &Tensor, types: &Tensor) -> candle_core::Result<Tensor> {
        let (_, len) = ids.dims2()?;
        let words = self.word.forward(ids)?;
        let summed = (&words + self.token_type.forward(types)?)?;
        let positions = Tensor::new(&(0..len as u32).collect::<Vec<_>>()[..], ids.device())?;
        let summed = summed.broadcast_add(&self.position.forward(&positions)?)?;
        self.norm.forward(&summed)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl Layer {
    fn load(vb: VarBuilder<'_>, c: &Config) -> candle_core::Result<Layer> {
        let h = c.hidden_size;
        let (att, out) = (vb.pp("attention"), vb.pp("output"));
        Ok(Layer {
            query: linear(h, h, att.pp("self").pp("query"))?,
            key: linear(h, h, att.pp("self").pp("key"))?,
            value: linear(h, h, att.pp("self").pp("value"))?,
            attention_out: linear(h, h, att.pp("output").pp("dense"))?,
            attention_norm: LayerNorm::load(h, c.layer_norm_eps, att.pp("output").pp("LayerNorm"))?,
            intermediate: linear(h, c.intermediate_size, vb.pp("intermediate").pp("dense"))?,
            output: linear(c.intermediate_size, h, out.pp("dense"))?,
            output_norm: LayerNorm::load(h, c.layer_norm_eps, out.pp("LayerNorm"))?,
        })
    }
}

/// BERT's embeddings and encoder layers (no pooler: that belongs to the task head).
pub struct Bert {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    act: HiddenAct,
}

impl std::fmt::Debug for Bert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bert")
            .field("layers", &self.layers.len())
            .field("heads", &self.heads)
            .field("head_size", &self.head_size)
            .finish()
    }
}

/// The name of the word-embedding table, which tells whether a checkpoint's tensors
/// carry the `bert.` prefix (a `BertFor…` model) or not (a bare `BertModel`).
const PROBE: &str = "embeddings.word_embeddings.weight";

impl Bert {
    /// Loads the network from `vb`, whose tensor names may carry the `bert.` prefix;
    /// `config` must have been checked (hidden size a multiple of the head count).
    pub fn load(vb: VarBuilder<'_>, config: &Config) -> candle_core::Result<Bert> {
        let vb = if !vb.contains_tensor(PROBE) && vb.contains_tensor(&format!("bert.{PROBE}")) {
            vb.pp("bert")
        } else {
            vb
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(vb.pp(format!("encoder.layer.{i}")), config))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let heads = config.num_attention_heads.max(1);
        Ok(Bert {
            embeddings: Embeddings::load(vb.pp("embeddings"), config)?,
            layers,
            heads,
            head_size: config.hidden_size / heads,
            act: config.hidden_act,
        })
    }

    /// The last hidden state `[b, seq, hidden]` of `ids` `[b, seq]` (u32), with segment
    /// ids and the attention mask (1 = token, 0 = padding) of the same shape.
    pub fn forward(
        &self,
        ids: &Tensor,
        types: &Tensor,
        mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        self.forward_t(ids, types, mask, None)
    }

    /// [`Bert::forward`], with `dropout` applied where Hugging Face's BERT applies it in
    /// training mode (after the embeddings, to the attention probabilities, and to both
    /// sub-layers' outputs before their residual sums).
    pub fn forward_t(
        &self,
        ids: &Tensor,
        types: &Tensor,
        mask: &Tensor,
        mut dropout: Option<&mut Dropout>,
    ) -> candle_core::Result<Tensor> {
        let hidden = self.embeddings.forward(ids, types)?;
        let mut hidden = drop(hidden, &mut dropout)?;
        // 0 where attended, f32::MIN where padded (torch.finfo(dtype).min, as HF).
        let mask = mask.unsqueeze(1)?.unsqueeze(1)?.to_dtype(hidden.dtype())?;
        let mask = (mask.ones_like()? - &mask)?
            .broadcast_mul(&Tensor::new(f32::MIN, mask.device())?.to_dtype(mask.dtype())?)?;
        for layer in &self.layers {
            hidden = self.layer(layer, &hidden, &mask, &mut dropout)?;
        }
        Ok(hidden)
    }

    fn split_heads(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, s, _) = x.dims3()?;
        x.reshape((b, s, self.heads, self.head_size))?
            .transpose(1, 2)?
            .contiguous()
    }

    fn layer(
        &self,
        l: &Layer,
        x: &Tensor,
        mask: &Tensor,
        dropout: &mut Option<&mut Dropout>,
    ) -> candle_core::Result<Tensor> {
        let q = self.split_heads(&l.query.forward(x)?)?;
        let k = self.split_heads(&l.key.forward(x)?)?;
        let v = self.split_heads(&l.value.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (self.head_size as f64).sqrt())?;
        let probs = candle_nn::ops::softmax(&scores.broadcast_add(mask)?, D::Minus1)?;
        let probs = drop(probs, dropout)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .flatten_from(D::Minus2)?;
        let attended = drop(l.attention_out.forward(&context)?, dropout)?;
        let attended = l.attention_norm.forward(&(attended + x)?)?;
        let inner = l.intermediate.forward(&attended)?;
        let inner = match self.act {
            HiddenAct::Gelu => inner.gelu_erf()?,
            HiddenAct::GeluApproximate => inner.gelu()?,
            HiddenAct::Relu => inner.relu()?,
        };
        let out = drop(l.output.forward(&inner)?, dropout)?;
        l.output_norm.forward(&(out + attended)?)
    }
}
