//! MLGym's actor-critic network family: what tensors it has, where each lives in one flat
//! parameter vector, and how it is initialised.
//!
//! Two separate MLPs read the flattened observation: the critic (`critic_fc_1..L`, ReLU,
//! then `critic_fc_v` with one output) and the actor (`actor_fc_1..L`, ReLU, then its head).
//! The actor's head is Gaussian for MountainCar (`actor_fc_mu` and `actor_fc_scale`, one
//! output each; scale = softplus(·) + 0.001) and categorical otherwise (`actor_fc_logits`,
//! one logit per action). Every dense layer has a `kernel` of shape `[inputs, outputs]`
//! (Flax's layout: `y = x · kernel + bias`) and a `bias` of shape `[outputs]`.
//!
//! All parameters live in one `Vec<f32>` in the order of [`NetSpec::tensors`], so that
//! gradient clipping, Adam and checkpoint I/O are loops over flat arrays.

use crate::rl::env::{ActionSpace, EnvId};
use crate::rng::Rng;

/// Largest number of hidden layers a network may have.
pub const MAX_HIDDEN_LAYERS: usize = 8;
/// Largest width of a hidden layer.
pub const MAX_HIDDEN_UNITS: usize = 1024;
/// The constant added to the softplus of the Gaussian head's scale output.
pub const MIN_STD: f32 = 0.001;

/// The actor's output distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadKind {
    /// One-dimensional Gaussian: heads `actor_fc_mu` and `actor_fc_scale`.
    Gaussian,
    /// Categorical over this many actions: head `actor_fc_logits`.
    Categorical(usize),
}

/// The actor's head for an environment's action space.
pub fn head_for(env: EnvId) -> HeadKind {
    match env.action_space() {
        ActionSpace::Continuous { .. } => HeadKind::Gaussian,
        ActionSpace::Discrete(n) => HeadKind::Categorical(n),
    }
}

/// The shape of a network: everything needed to lay out and run it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetSpec {
    /// Length of the flattened observation.
    pub obs_dim: usize,
    /// Hidden layers per MLP (`num_hidden_layers`, 1 to [`MAX_HIDDEN_LAYERS`]).
    pub hidden_layers: usize,
    /// Units per hidden layer (`num_hidden_units`, 1 to [`MAX_HIDDEN_UNITS`]).
    pub hidden_units: usize,
    /// The actor's head.
    pub head: HeadKind,
}

/// One named tensor of the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// Its name in a checkpoint, e.g. `actor_fc_1.kernel`.
    pub name: String,
    /// `[inputs, outputs]` for a kernel, `[outputs]` for a bias.
    pub shape: Vec<usize>,
    /// Where it starts in the flat parameter vector.
    pub offset: usize,
}

impl TensorSpec {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One dense layer inside the flat parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dense {
    /// Offset of the kernel (`n_in × n_out`, row-major).
    pub w: usize,
    /// Offset of the bias (`n_out`).
    pub b: usize,
    /// Inputs.
    pub n_in: usize,
    /// Outputs.
    pub n_out: usize,
}

/// One MLP: hidden layers with ReLU, then one or more linear heads reading the last hidden
/// layer. Its outputs are the heads' outputs side by side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MlpLayout {
    /// Hidden layers, first to last.
    pub hidden: Vec<Dense>,
    /// Output heads (critic: value; Gaussian actor: mu, then scale; categorical: logits).
    pub heads: Vec<Dense>,
}

impl MlpLayout {
    /// Total number of outputs (the heads' outputs side by side).
    pub fn n_out(&self) -> usize {
        self.heads.iter().map(|h| h.n_out).sum()
    }
}

impl NetSpec {
    /// The network's tensors in their flat order: the critic's layers, its value head, the
    /// actor's layers, its head(s); kernel before bias in each layer.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let mut out = Vec::new();
        let mut offset = 0;
        let mut dense = |out: &mut Vec<TensorSpec>, name: String, n_in: usize, n_out: usize| {
            out.push(TensorSpec {
                name: format!("{name}.kernel"),
                shape: vec![n_in, n_out],
                offset,
            });
            offset += n_in * n_out;
            out.push(TensorSpec {
                name: format!("{name}.bias"),
                shape: vec![n_out],
                offset,
            });
            offset += n_out;
        };
        for prefix in ["critic", "actor"] {
            let mut n_in = self.obs_dim;
            for l in 1..=self.hidden_layers {
                dense(
                    &mut out,
                    format!("{prefix}_fc_{l}"),
                    n_in,
                    self.hidden_units,
                );
                n_in = self.hidden_units;
            }
            if prefix == "critic" {
                dense(&mut out, "critic_fc_v".into(), n_in, 1);
            } else {
                match self.head {
                    HeadKind::Gaussian => {
                        dense(&mut out, "actor_fc_mu".into(), n_in, 1);
                        dense(&mut out, "actor_fc_scale".into(), n_in, 1);
                    }
                    HeadKind::Categorical(n) => dense(&mut out, "actor_fc_logits".into(), n_in, n),
                }
            }
        }
        out
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.tensors().iter().map(TensorSpec::len).sum()
    }

    /// The critic's and the actor's layouts inside the flat parameters.
    pub fn layouts(&self) -> (MlpLayout, MlpLayout) {
        let t = self.tensors();
        let mut layers = t.chunks(2).map(|kb| Dense {
            w: kb[0].offset,
            b: kb[1].offset,
            n_in: kb[0].shape[0],
            n_out: kb[0].shape[1],
        });
        let mut take = |n: usize| layers.by_ref().take(n).collect::<Vec<_>>();
        let critic = MlpLayout {
            hidden: take(self.hidden_layers),
            heads: take(1),
        };
        let n_heads = if self.head == HeadKind::Gaussian {
            2
        } else {
            1
        };
        let actor = MlpLayout {
            hidden: take(self.hidden_layers),
            heads: take(n_heads),
        };
        (critic, actor)
    }

    /// Number of actor outputs: 2 (mu, pre-softplus scale) or the number of actions.
    pub fn actor_outputs(&self) -> usize {
        match self.head {
            HeadKind::Gaussian => 2,
            HeadKind::Categorical(n) => n,
        }
    }

    /// Fresh parameters as Flax initialises MLGym's `Model`: kernels from the truncated
    /// LeCun normal (std `sqrt(1/fan_in)/0.8796`, cut at ±2 std), biases uniform in
    /// `[0, 0.05)`.
    pub fn init(&self, rng: &mut Rng) -> Vec<f32> {
        let mut params = vec![0.0f32; self.num_params()];
        for t in self.tensors() {
            let dst = &mut params[t.offset..t.offset + t.len()];
            if t.shape.len() == 2 {
                // 0.8796 is the std of a standard normal truncated to [-2, 2].
                let std = (1.0 / t.shape[0] as f64).sqrt() / 0.879_625_661_034_239_8;
                for v in dst {
                    *v = (truncated_normal(rng) * std) as f32;
                }
            } else {
                for v in dst {
                    *v = rng.next_f32() * 0.05;
                }
            }
        }
        params
    }
}

/// A standard normal sample conditioned on `|z| <= 2` (rejection).
fn truncated_normal(rng: &mut Rng) -> f64 {
    loop {
        let z = rng.normal();
        if z.abs() <= 2.0 {
            return z;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(head: HeadKind) -> NetSpec {
        NetSpec {
            obs_dim: 2,
            hidden_layers: 2,
            hidden_units: 3,
            head,
        }
    }

    #[test]
    fn tensors_are_contiguous_in_the_documented_order() {
        let t = spec(HeadKind::Gaussian).tensors();
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "critic_fc_1.kernel",
                "critic_fc_1.bias",
                "critic_fc_2.kernel",
                "critic_fc_2.bias",
                "critic_fc_v.kernel",
                "critic_fc_v.bias",
                "actor_fc_1.kernel",
                "actor_fc_1.bias",
                "actor_fc_2.kernel",
                "actor_fc_2.bias",
                "actor_fc_mu.kernel",
                "actor_fc_mu.bias",
                "actor_fc_scale.kernel",
                "actor_fc_scale.bias",
            ]
        );
        let mut next = 0;
        for x in &t {
            assert_eq!(x.offset, next, "{}", x.name);
            next += x.len();
        }
        assert_eq!(next, spec(HeadKind::Gaussian).num_params());
        let (critic, actor) = spec(HeadKind::Categorical(4)).layouts();
        assert_eq!(critic.n_out(), 1);
        assert_eq!(actor.n_out(), 4);
        assert_eq!(
            actor.hidden[0],
            Dense {
                w: 25,
                b: 31,
                n_in: 2,
                n_out: 3
            }
        );
    }

    #[test]
    fn init_is_seeded_and_in_range() {
        let s = NetSpec {
            obs_dim: 15,
            hidden_layers: 2,
            hidden_units: 64,
            head: HeadKind::Categorical(4),
        };
        let a = s.init(&mut Rng::new(3));
        assert_eq!(a, s.init(&mut Rng::new(3)));
        assert_ne!(a, s.init(&mut Rng::new(4)));
        for t in s.tensors() {
            let v = &a[t.offset..t.offset + t.len()];
            if t.shape.len() == 1 {
                assert!(v.iter().all(|x| (0.0..0.05).contains(x)), "{}", t.name);
            } else {
                let bound = 2.0 * (1.0 / t.shape[0] as f32).sqrt() / 0.8796 + 1e-6;
                assert!(v.iter().all(|x| x.abs() <= bound), "{}", t.name);
            }
        }
    }
}
