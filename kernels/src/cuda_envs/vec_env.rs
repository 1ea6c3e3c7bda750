//! [`GpuVecEnv`]: N environments on a GPU (or the host emulation), stepped in one launch.

use std::sync::Arc;

use super::exec::{DevBuf, GpuRuntime, KernelArgs};
use super::{CosMode, EnvKind, EnvParams, GpuEnvError};

const FLAG_AUTORESET: u32 = 1;
const FLAG_FULL_OBS: u32 = 2;
const FLAG_NATIVE_COSF: u32 = 4;
const FLAG_RANDOM_ACTIONS: u32 = 8;
const FLAG_RESEED: u32 = 16;

/// One action per environment.
#[derive(Clone, Copy, Debug)]
pub enum GpuActions<'a> {
    /// Integer actions (MetaMaze, Breakout).
    Discrete(&'a [i32]),
    /// Float actions (MountainCar).
    Continuous(&'a [f32]),
}

/// Injected outcomes of the reset draws, one per environment (replaying recordings).
#[derive(Clone, Copy, Debug)]
pub enum ResetDraws<'a> {
    /// MetaMaze's goal index, Breakout's ball start.
    Int(&'a [i32]),
    /// MountainCar's initial position.
    Float(&'a [f32]),
}

/// Environment states, one vector per field, in the order of [`EnvKind::state_fields`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StateArrays {
    /// Integer fields.
    pub ints: Vec<Vec<i32>>,
    /// Float fields.
    pub floats: Vec<Vec<f32>>,
    /// 64-bit fields.
    pub words: Vec<Vec<u64>>,
}

/// Plain-old-data element types that may be viewed as bytes.
trait Pod: Copy {}
impl Pod for i32 {}
impl Pod for f32 {}
impl Pod for u64 {}

fn bytes_of<T: Pod>(v: &[T]) -> &[u8] {
    // SAFETY: T is a padding-free primitive; the view covers the same memory.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

fn bytes_of_mut<T: Pod>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `bytes_of`; every byte pattern is a valid i32, f32 or u64.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of_val(v)) }
}

/// N environments of one kind on a [`GpuRuntime`] (see the module docs of
/// [`super`]). Results are copied to the host after each [`GpuVecEnv::step`]; read them with
/// [`GpuVecEnv::obs`], [`GpuVecEnv::rewards`], [`GpuVecEnv::terminated`] and
/// [`GpuVecEnv::truncated`].
pub struct GpuVecEnv {
    rt: Arc<GpuRuntime>,
    params: EnvParams,
    n: usize,
    cos: CosMode,
    ints: Vec<DevBuf>,
    floats: Vec<DevBuf>,
    words: Vec<DevBuf>,
    rng: DevBuf,
    actions: DevBuf,
    step_draws: DevBuf,
    reset_draws: DevBuf,
    obs: DevBuf,
    final_obs: Option<DevBuf>,
    reward: DevBuf,
    terminated: DevBuf,
    truncated: DevBuf,
    h_obs: Vec<f32>,
    h_final: Vec<f32>,
    h_reward: Vec<f32>,
    h_term: Vec<bool>,
    h_trunc: Vec<bool>,
    scratch: Vec<u8>,
    t: u32,
}

impl std::fmt::Debug for GpuVecEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuVecEnv")
            .field("env", &self.kind().gymnax_name())
            .field("n", &self.n)
            .field("runtime", &self.rt.description())
            .finish()
    }
}

impl GpuVecEnv {
    /// `n` environments of `kind` with gymnax's default parameters, reset from `seed`.
    pub fn new(
        rt: &Arc<GpuRuntime>,
        kind: EnvKind,
        n: usize,
        seed: u64,
    ) -> Result<Self, GpuEnvError> {
        Self::with_params(rt, EnvParams::default_for(kind), n, seed)
    }

    /// `n` environments with `params`, reset from `seed` (see [`GpuVecEnv::reset`]).
    pub fn with_params(
        rt: &Arc<GpuRuntime>,
        params: EnvParams,
        n: usize,
        seed: u64,
    ) -> Result<Self, GpuEnvError> {
        if n == 0 || n > u32::MAX as usize / 4 {
            return Err(GpuEnvError::Shape {
                what: "number of environments",
                expected: 1,
                got: n,
            });
        }
        let kind = params.kind();
        let (fi, ff, fw) = kind.state_fields();
        let d = kind.obs_dim();
        let alloc = |bytes: usize| rt.alloc(bytes);
        let mut env = GpuVecEnv {
            ints: fi.iter().map(|_| alloc(n * 4)).collect::<Result<_, _>>()?,
            floats: ff.iter().map(|_| alloc(n * 4)).collect::<Result<_, _>>()?,
            words: fw.iter().map(|_| alloc(n * 8)).collect::<Result<_, _>>()?,
            rng: alloc(n * 32)?,
            actions: alloc(n * 4)?,
            step_draws: alloc(n * 4)?,
            reset_draws: alloc(n * 4)?,
            obs: alloc(n * d * 4)?,
            final_obs: None,
            reward: alloc(n * 4)?,
            terminated: alloc(n)?,
            truncated: alloc(n)?,
            h_obs: vec![0.0; n * d],
            h_final: Vec::new(),
            h_reward: vec![0.0; n],
            h_term: vec![false; n],
            h_trunc: vec![false; n],
            scratch: vec![0; n],
            rt: rt.clone(),
            params,
            n,
            cos: CosMode::default(),
            t: 0,
        };
        env.reset(seed)?;
        Ok(env)
    }

    /// Which environment this is.
    pub fn kind(&self) -> EnvKind {
        self.params.kind()
    }

    /// Number of environments.
    pub fn num_envs(&self) -> usize {
        self.n
    }

    /// Length of one observation row.
    pub fn obs_dim(&self) -> usize {
        self.kind().obs_dim()
    }

    /// The parameters.
    pub fn params(&self) -> &EnvParams {
        &self.params
    }

    /// The runtime the environments live on.
    pub fn runtime(&self) -> &Arc<GpuRuntime> {
        &self.rt
    }

    /// Chooses MountainCar's cosine (see [`CosMode`]); ignored by the other environments.
    pub fn set_cos_mode(&mut self, mode: CosMode) {
        self.cos = mode;
    }

    /// Keeps the pre-reset observation of environments that end (gymnax 1.0.1's
    /// `final_observation`), readable with [`GpuVecEnv::final_obs_row`].
    pub fn set_record_final_obs(&mut self, on: bool) -> Result<(), GpuEnvError> {
        if on && self.final_obs.is_none() {
            self.final_obs = Some(self.rt.alloc(self.n * self.obs_dim() * 4)?);
            self.h_final = vec![0.0; self.n * self.obs_dim()];
        } else if !on {
            self.final_obs = None;
            self.h_final = Vec::new();
        }
        Ok(())
    }

    fn args(&self, flags: u32) -> KernelArgs {
        let (pf, pi) = self.params.pack();
        let mut a = KernelArgs {
            rng: self.rng.addr(),
            obs: self.obs.addr(),
            final_obs: self.final_obs.as_ref().map_or(0, DevBuf::addr),
            reward: self.reward.addr(),
            terminated: self.terminated.addr(),
            truncated: self.truncated.addr(),
            n: self.n as u32,
            flags: flags
                | if self.cos == CosMode::Native {
                    FLAG_NATIVE_COSF
                } else {
                    0
                },
            t: self.t,
            pf,
            pi,
            ..Default::default()
        };
        for (slot, b) in a.si.iter_mut().zip(&self.ints) {
            *slot = b.addr();
        }
        for (slot, b) in a.sf.iter_mut().zip(&self.floats) {
            *slot = b.addr();
        }
        for (slot, b) in a.su.iter_mut().zip(&self.words) {
            *slot = b.addr();
        }
        if self.kind() == EnvKind::MountainCar {
            a.act_f = self.actions.addr();
        } else {
            a.act_i = self.actions.addr();
        }
        a
    }

    fn kernel(&self, what: &str) -> String {
        format!("mlgym_{}_{what}", self.kind().prefix())
    }

    /// Resets every environment: environment `i` gets the stream `Rng::stream(seed, i)`
    /// and is reset with it, exactly as `mlgym_tasks::rl::VecEnv::reset` does.
    pub fn reset(&mut self, seed: u64) -> Result<(), GpuEnvError> {
        let mut a = self.args(FLAG_RESEED);
        a.seed = seed;
        self.rt.launch(&self.kernel("reset"), &a)?;
        self.download()
    }

    fn upload_actions(&mut self, actions: GpuActions<'_>) -> Result<(), GpuEnvError> {
        let env = self.kind().gymnax_name();
        let bytes = match (self.kind(), actions) {
            (EnvKind::MountainCar, GpuActions::Continuous(a)) => (a.len(), bytes_of(a)),
            (EnvKind::MountainCar, GpuActions::Discrete(_)) => {
                return Err(GpuEnvError::ActionKind {
                    env,
                    expected: "float",
                    variant: "Continuous",
                })
            }
            (_, GpuActions::Discrete(a)) => (a.len(), bytes_of(a)),
            (_, GpuActions::Continuous(_)) => {
                return Err(GpuEnvError::ActionKind {
                    env,
                    expected: "integer",
                    variant: "Discrete",
                })
            }
        };
        self.check_len("actions", bytes.0)?;
        self.rt.upload(&mut self.actions, bytes.1)
    }

    fn check_len(&self, what: &'static str, got: usize) -> Result<(), GpuEnvError> {
        if got == self.n {
            Ok(())
        } else {
            Err(GpuEnvError::Shape {
                what,
                expected: self.n,
                got,
            })
        }
    }

    /// Steps every environment with its action, auto-resets those that ended, and copies
    /// the results to the host.
    pub fn step(&mut self, actions: GpuActions<'_>) -> Result<(), GpuEnvError> {
        self.upload_actions(actions)?;
        let a = self.args(FLAG_AUTORESET);
        self.rt.launch(&self.kernel("step"), &a)?;
        self.t = self.t.wrapping_add(1);
        self.download()
    }

    /// Steps with injected random outcomes, for replaying recordings: `step_draws`
    /// (MetaMaze's teleport cell), `reset_draws` (used where an environment ends), and
    /// without auto-reset when `autoreset` is false. Observations are rewritten whole.
    pub fn step_with_draws(
        &mut self,
        actions: GpuActions<'_>,
        step_draws: Option<&[i32]>,
        reset_draws: Option<ResetDraws<'_>>,
        autoreset: bool,
    ) -> Result<(), GpuEnvError> {
        self.upload_actions(actions)?;
        let mut a = self.args(FLAG_FULL_OBS | if autoreset { FLAG_AUTORESET } else { 0 });
        if let Some(d) = step_draws {
            self.check_len("step draws", d.len())?;
            self.rt.upload(&mut self.step_draws, bytes_of(d))?;
            a.step_draw = self.step_draws.addr();
        }
        match reset_draws {
            Some(ResetDraws::Int(d)) => {
                self.check_len("reset draws", d.len())?;
                self.rt.upload(&mut self.reset_draws, bytes_of(d))?;
                a.reset_draw_i = self.reset_draws.addr();
            }
            Some(ResetDraws::Float(d)) => {
                self.check_len("reset draws", d.len())?;
                self.rt.upload(&mut self.reset_draws, bytes_of(d))?;
                a.reset_draw_f = self.reset_draws.addr();
            }
            None => {}
        }
        self.rt.launch(&self.kernel("step"), &a)?;
        self.t = self.t.wrapping_add(1);
        self.download()
    }

    /// Runs `steps` steps with actions drawn on the device from `seed` (uniform, not from
    /// the environments' own streams), without copying anything back: for measuring the
    /// kernels' throughput. Waits for the last step; call [`GpuVecEnv::download`] to read.
    pub fn step_random(&mut self, steps: usize, seed: u64) -> Result<(), GpuEnvError> {
        let name = self.kernel("step");
        for _ in 0..steps {
            let mut a = self.args(FLAG_AUTORESET | FLAG_RANDOM_ACTIONS);
            a.seed = seed;
            self.rt.launch(&name, &a)?;
            self.t = self.t.wrapping_add(1);
        }
        self.rt.synchronize()
    }

    /// Copies observations, rewards and flags (and final observations) to the host.
    pub fn download(&mut self) -> Result<(), GpuEnvError> {
        self.rt.download(&self.obs, bytes_of_mut(&mut self.h_obs))?;
        self.rt
            .download(&self.reward, bytes_of_mut(&mut self.h_reward))?;
        self.rt.download(&self.terminated, &mut self.scratch)?;
        for (b, s) in self.h_term.iter_mut().zip(&self.scratch) {
            *b = *s != 0;
        }
        self.rt.download(&self.truncated, &mut self.scratch)?;
        for (b, s) in self.h_trunc.iter_mut().zip(&self.scratch) {
            *b = *s != 0;
        }
        if let Some(f) = &self.final_obs {
            self.rt.download(f, bytes_of_mut(&mut self.h_final))?;
        }
        Ok(())
    }

    /// All observations, `[num_envs, obs_dim]` row-major (post-reset where an env ended).
    pub fn obs(&self) -> &[f32] {
        &self.h_obs
    }

    /// The observation row of environment `i`.
    pub fn obs_row(&self, i: usize) -> &[f32] {
        let d = self.obs_dim();
        &self.h_obs[i * d..(i + 1) * d]
    }

    /// The last step's rewards.
    pub fn rewards(&self) -> &[f32] {
        &self.h_reward
    }

    /// The last step's natural terminations.
    pub fn terminated(&self) -> &[bool] {
        &self.h_term
    }

    /// The last step's time-limit truncations.
    pub fn truncated(&self) -> &[bool] {
        &self.h_trunc
    }

    /// Whether environment `i` ended (and was reset) in the last step.
    pub fn done(&self, i: usize) -> bool {
        self.h_term[i] || self.h_trunc[i]
    }

    /// Environment `i`'s observation before any reset: the recorded final observation where
    /// it ended, its current one otherwise; `None` unless final observations are recorded.
    pub fn final_obs_row(&self, i: usize) -> Option<&[f32]> {
        self.final_obs.as_ref()?;
        let d = self.obs_dim();
        Some(if self.done(i) {
            &self.h_final[i * d..(i + 1) * d]
        } else {
            self.obs_row(i)
        })
    }

    /// Copies every environment's state to the host.
    pub fn states(&self) -> Result<StateArrays, GpuEnvError> {
        let mut s = StateArrays::default();
        for b in &self.ints {
            let mut v = vec![0i32; self.n];
            self.rt.download(b, bytes_of_mut(&mut v))?;
            s.ints.push(v);
        }
        for b in &self.floats {
            let mut v = vec![0f32; self.n];
            self.rt.download(b, bytes_of_mut(&mut v))?;
            s.floats.push(v);
        }
        for b in &self.words {
            let mut v = vec![0u64; self.n];
            self.rt.download(b, bytes_of_mut(&mut v))?;
            s.words.push(v);
        }
        Ok(s)
    }

    /// Replaces every environment's state (and rewrites the observations from it).
    pub fn set_states(&mut self, s: &StateArrays) -> Result<(), GpuEnvError> {
        let (fi, ff, fw) = self.kind().state_fields();
        let shape_ok =
            s.ints.len() == fi.len() && s.floats.len() == ff.len() && s.words.len() == fw.len();
        if !shape_ok {
            return Err(GpuEnvError::Shape {
                what: "state fields (ints + floats + words)",
                expected: fi.len() + ff.len() + fw.len(),
                got: s.ints.len() + s.floats.len() + s.words.len(),
            });
        }
        for v in &s.ints {
            self.check_len("state field", v.len())?;
        }
        for v in &s.floats {
            self.check_len("state field", v.len())?;
        }
        for v in &s.words {
            self.check_len("state field", v.len())?;
        }
        for (b, v) in self.ints.iter_mut().zip(&s.ints) {
            self.rt.upload(b, bytes_of(v))?;
        }
        for (b, v) in self.floats.iter_mut().zip(&s.floats) {
            self.rt.upload(b, bytes_of(v))?;
        }
        for (b, v) in self.words.iter_mut().zip(&s.words) {
            self.rt.upload(b, bytes_of(v))?;
        }
        let a = self.args(0);
        self.rt.launch(&self.kernel("write_obs"), &a)?;
        self.download()
    }

    /// Every environment's generator state (`Rng::state()` of the CPU's stream `i`).
    pub fn rng_states(&self) -> Result<Vec<[u64; 4]>, GpuEnvError> {
        let mut words = vec![0u64; self.n * 4];
        self.rt.download(&self.rng, bytes_of_mut(&mut words))?;
        Ok((0..self.n)
            .map(|i| [0, 1, 2, 3].map(|k| words[k * self.n + i]))
            .collect())
    }

    /// `cos` of every value in `xs` as the MountainCar kernel computes it (`mode`), for
    /// comparing with glibc. Uses this batch's buffers, so `xs.len()` must be `num_envs`.
    pub fn cosf_batch(&mut self, xs: &[f32], mode: CosMode) -> Result<Vec<f32>, GpuEnvError> {
        self.check_len("cos inputs", xs.len())?;
        self.rt.upload(&mut self.actions, bytes_of(xs))?;
        let mut a = self.args(0);
        a.flags = if mode == CosMode::Native {
            FLAG_NATIVE_COSF
        } else {
            0
        };
        a.act_f = self.actions.addr();
        self.rt.launch("mlgym_cosf_batch", &a)?;
        let mut out = vec![0f32; self.n];
        self.rt.download(&self.reward, bytes_of_mut(&mut out))?;
        Ok(out)
    }
}
