//! `MountainCarContinuous-v0` as gymnax computes it, bit for bit in float32.
//!
//! Exactness: gymnax's per-step `jit(step_env)` on CPU computes the velocity with two fused
//! multiply-adds and glibc's `cosf`, and the reward as `fma(-0.1, a * a, 100 * goal)`. Rust's
//! `f32::cos` is glibc's `cosf` on x86_64 Linux and `f32::mul_add` is a true FMA, so the
//! same expression here gives the same bits (the reference trajectories check this).
//! gymnax's quirks are kept: the reward uses the unclipped action, and a negative velocity
//! is zeroed (to −0.0) on the goal side rather than at the left wall.

use super::{Env, EnvId, Transition};
use crate::rl::soa::soa_layout;
use crate::rl::vec_env::SoaEnv;
use crate::rng::Rng;

/// Lower end of the initial position's uniform draw.
pub const RESET_LOW: f32 = -0.6;
/// Upper end of the initial position's uniform draw.
pub const RESET_HIGH: f32 = -0.4;

pub use super::params::MountainCarParams;

soa_layout! {
    /// gymnax's MountainCarContinuous `EnvState`.
    state MountainCarState,
    /// MountainCar states of many environments, one array per field.
    soa MountainCarSoa,
    /// Mutable views of a range of a [`MountainCarSoa`].
    lanes MountainCarLanes {
        /// Car position.
        position: f32,
        /// Car velocity.
        velocity: f32,
        /// Steps taken.
        time: i32,
    }
}

/// `jnp.clip(x, lo, hi)`: a NaN stays NaN (unlike `f32::max`/`min`, which drop it).
#[inline]
fn clip(x: f32, lo: f32, hi: f32) -> f32 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// The MountainCarContinuous environment (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct MountainCar;

impl Env for MountainCar {
    type Params = MountainCarParams;
    type State = MountainCarState;
    type Action = f32;
    /// The initial position.
    type ResetDraw = f32;
    type StepDraw = ();

    const ID: EnvId = EnvId::MountainCarContinuous;
    const OBS_DIM: usize = 2;

    #[inline]
    fn sample_reset_draw(_params: &MountainCarParams, rng: &mut Rng) -> f32 {
        // The same affine map as jax.random.uniform, applied to our [0, 1) float.
        let u = rng.next_f32();
        let p = u * (RESET_HIGH - RESET_LOW) + RESET_LOW;
        if p < RESET_LOW {
            RESET_LOW
        } else {
            p
        }
    }

    #[inline]
    fn sample_step_draw(_rng: &mut Rng) {}

    #[inline]
    fn reset_from_draw(_params: &MountainCarParams, position: f32) -> MountainCarState {
        MountainCarState {
            position,
            velocity: 0.0,
            time: 0,
        }
    }

    #[inline]
    fn step_with<F: FnOnce()>(
        p: &MountainCarParams,
        s: &mut MountainCarState,
        action: f32,
        _draw: F,
    ) -> Transition {
        let force = clip(action, p.min_action, p.max_action);
        let cos = (3.0f32 * s.position).cos();
        // v + force·power − cos(3p)·gravity, contracted into two FMAs as XLA:CPU does.
        let v = (-cos).mul_add(p.gravity, force.mul_add(p.power, s.velocity));
        let v = clip(v, -p.max_speed, p.max_speed);
        let position = clip(s.position + v, p.min_position, p.max_position);
        let at_goal = position >= p.goal_position;
        // gymnax multiplies by (1 − 1) here, so a negative velocity becomes −0.0.
        let velocity = if at_goal && v < 0.0 { v * 0.0 } else { v };
        let goal = at_goal && velocity >= p.goal_velocity;
        let bonus = if goal { 100.0f32 } else { 0.0 };
        // The penalty uses the unclipped action: large actions cost more than they push.
        // XLA fuses it with the bonus; rounding −0.1·a² first differs on some goal steps.
        let reward = (-0.1f32).mul_add(action * action, bonus);
        s.position = position;
        s.velocity = velocity;
        s.time += 1;
        Transition {
            reward,
            terminated: goal,
            truncated: s.time >= p.max_steps_in_episode,
        }
    }

    #[inline]
    fn write_obs(_params: &MountainCarParams, s: &MountainCarState, out: &mut [f32]) {
        out[0] = s.position;
        out[1] = s.velocity;
    }
}

impl SoaEnv for MountainCar {
    type Soa = MountainCarSoa;
    type Lanes<'a> = MountainCarLanes<'a>;
    const PAR_GRAIN: usize = 8192;

    fn soa_new(n: usize, fill: &MountainCarState) -> MountainCarSoa {
        MountainCarSoa::filled(n, fill)
    }
    fn soa_get(soa: &MountainCarSoa, i: usize) -> MountainCarState {
        soa.get(i)
    }
    fn soa_set(soa: &mut MountainCarSoa, i: usize, s: &MountainCarState) {
        soa.set(i, s)
    }
    fn lanes(soa: &mut MountainCarSoa) -> MountainCarLanes<'_> {
        soa.lanes()
    }
    fn split_lanes<'a>(l: Self::Lanes<'a>, mid: usize) -> (Self::Lanes<'a>, Self::Lanes<'a>) {
        l.split_at(mid)
    }
    #[inline(always)]
    fn load(l: &MountainCarLanes<'_>, i: usize) -> MountainCarState {
        l.load(i)
    }
    #[inline(always)]
    fn store(l: &mut MountainCarLanes<'_>, i: usize, s: &MountainCarState) {
        l.store(i, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> MountainCarParams {
        MountainCarParams::default()
    }

    fn at(position: f32, velocity: f32) -> MountainCarState {
        MountainCarState {
            position,
            velocity,
            time: 0,
        }
    }

    #[test]
    fn first_step_of_the_reference_file_is_bit_exact() {
        // Episode 0, t=0 of MountainCarContinuous-v0/random.jsonl.gz.
        let mut s = at(f32::from_bits(0xbed228ae), 0.0);
        let tr = MountainCar::step_with(&params(), &mut s, f32::from_bits(0x3e58a10d), || ());
        assert_eq!(s.position.to_bits(), 0xbed26c2d);
        assert_eq!(s.velocity.to_bits(), 0xba06fee3);
        assert_eq!(tr.reward.to_bits(), 0xbb92a689);
        assert_eq!(s.time, 1);
    }

    #[test]
    fn force_is_clipped_but_the_penalty_uses_the_raw_action() {
        let mut a = at(-0.5, 0.0);
        let mut b = a;
        let ta = MountainCar::step_with(&params(), &mut a, 3.0, || ());
        let tb = MountainCar::step_with(&params(), &mut b, 1.0, || ());
        assert_eq!(a, b);
        assert_eq!(ta.reward, -0.1f32 * 9.0);
        assert_eq!(tb.reward, -0.1f32);
    }

    #[test]
    fn speed_and_position_are_clipped() {
        let mut s = at(-0.5, 0.0699);
        MountainCar::step_with(&params(), &mut s, 1.0, || ());
        assert_eq!(s.velocity, 0.07);
        let mut s = at(-1.19, -0.07);
        MountainCar::step_with(&params(), &mut s, -1.0, || ());
        assert_eq!(s.position, -1.2);
        // gymnax does not zero the velocity at the left wall.
        assert!(s.velocity < -0.06);
    }

    #[test]
    fn negative_velocity_on_the_goal_side_becomes_negative_zero() {
        // Right wall with the car rolling back: position stays ≥ 0.45, velocity < 0.
        let mut s = at(0.6, -0.001);
        let tr = MountainCar::step_with(&params(), &mut s, -1.0, || ());
        assert!(s.position >= 0.45);
        assert_eq!(s.velocity.to_bits(), (-0.0f32).to_bits());
        // −0.0 ≥ 0 holds, so this is the goal.
        assert!(tr.terminated);
        assert_eq!(tr.reward, (-0.1f32).mul_add(1.0, 100.0));
    }

    #[test]
    fn goal_reached_moving_right_terminates_with_bonus() {
        let mut s = at(0.44, 0.02);
        let tr = MountainCar::step_with(&params(), &mut s, 0.5, || ());
        assert!(tr.terminated && !tr.truncated);
        assert_eq!(tr.reward, (-0.1f32).mul_add(0.25, 100.0));
    }

    #[test]
    fn time_limit_truncates_at_999() {
        let mut s = MountainCarState {
            time: 998,
            ..at(-0.5, 0.0)
        };
        let tr = MountainCar::step_with(&params(), &mut s, 0.0, || ());
        assert!(tr.truncated && !tr.terminated);
    }

    #[test]
    fn nan_action_propagates_like_jnp_clip() {
        let mut s = at(-0.5, 0.0);
        let tr = MountainCar::step_with(&params(), &mut s, f32::NAN, || ());
        assert!(s.velocity.is_nan() && tr.reward.is_nan());
    }

    #[test]
    fn reset_draws_in_range() {
        let mut rng = Rng::new(5);
        for _ in 0..10_000 {
            let s = MountainCar::reset(&params(), &mut rng);
            assert!((RESET_LOW..=RESET_HIGH).contains(&s.position));
            assert_eq!((s.velocity, s.time), (0.0, 0));
        }
    }
}
