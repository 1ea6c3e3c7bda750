//! The rollout buffer: `n_steps + 1` slots of every environment's observation, action,
//! reward, done flag, log-probability and value (MLGym's `BatchManager`).

/// Transitions of `n_envs` environments, slot-major (`x[slot * n_envs + env]`).
#[derive(Clone, Debug)]
pub struct Rollout {
    /// Environments per slot.
    pub n_envs: usize,
    /// Length of one observation.
    pub obs_dim: usize,
    /// Capacity in slots.
    pub slots: usize,
    /// Filled slots.
    pub len: usize,
    /// Observations before each step, `[slots, n_envs, obs_dim]`.
    pub obs: Vec<f32>,
    /// Actions (`f32`; the index for categorical actions).
    pub actions: Vec<f32>,
    /// Rewards.
    pub rewards: Vec<f32>,
    /// 1.0 where the step ended the episode (terminated or truncated), else 0.0.
    pub dones: Vec<f32>,
    /// Log-probabilities of the actions under the policy that chose them.
    pub log_pis: Vec<f32>,
    /// Critic values of the observations.
    pub values: Vec<f32>,
}

impl Rollout {
    /// An empty buffer of `slots` slots.
    pub fn new(slots: usize, n_envs: usize, obs_dim: usize) -> Self {
        let n = slots * n_envs;
        Rollout {
            n_envs,
            obs_dim,
            slots,
            len: 0,
            obs: vec![0.0; n * obs_dim],
            actions: vec![0.0; n],
            rewards: vec![0.0; n],
            dones: vec![0.0; n],
            log_pis: vec![0.0; n],
            values: vec![0.0; n],
        }
    }

    /// Whether every slot is filled.
    pub fn is_full(&self) -> bool {
        self.len == self.slots
    }

    /// Empties the buffer (the storage is kept).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Starts the next slot with what is known before the step: observations, actions,
    /// their log-probabilities and the values. Returns `false` (storing nothing) when the
    /// buffer is full.
    pub fn begin_slot(
        &mut self,
        obs: &[f32],
        actions: &[f32],
        log_pis: &[f32],
        values: &[f32],
    ) -> bool {
        if self.is_full() {
            return false;
        }
        let (n, d, t) = (self.n_envs, self.obs_dim, self.len);
        self.obs[t * n * d..(t + 1) * n * d].copy_from_slice(&obs[..n * d]);
        let r = t * n..(t + 1) * n;
        self.actions[r.clone()].copy_from_slice(&actions[..n]);
        self.log_pis[r.clone()].copy_from_slice(&log_pis[..n]);
        self.values[r].copy_from_slice(&values[..n]);
        true
    }

    /// Completes the slot started by [`Rollout::begin_slot`] with the step's outcome.
    pub fn end_slot(&mut self, rewards: &[f32], terminated: &[bool], truncated: &[bool]) {
        if self.is_full() {
            return;
        }
        let (n, t) = (self.n_envs, self.len);
        let r = t * n..(t + 1) * n;
        self.rewards[r.clone()].copy_from_slice(&rewards[..n]);
        for ((d, &te), &tr) in self.dones[r].iter_mut().zip(terminated).zip(truncated) {
            *d = if te || tr { 1.0 } else { 0.0 };
        }
        self.len += 1;
    }
}
