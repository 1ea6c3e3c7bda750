//! `Breakout-MinAtar`: gymnax's port of MinAtar Breakout with the minimal action set.
//!
//! A 10×10 grid, y = 0 at the top. The paddle moves along row 9, the ball moves diagonally
//! one cell per step, and 30 bricks fill rows 1–3 (they come back when all are broken and
//! the ball reaches the paddle row). The step consumes no randomness; only the reset draws
//! which side the ball starts on. gymnax has no sticky actions, unlike MinAtar's wrapper.
//!
//! The brick map is a 100-bit mask (bit `y·10 + x`). The observation is the (10, 10, 4)
//! float tensor flattened row-major; [`Env::update_obs`] edits only the cells that changed,
//! which is what keeps the vectorised step cheap despite its 400 floats.

use super::{jax_index, Env, EnvId, Transition};
use crate::rl::soa::soa_layout;
use crate::rl::vec_env::SoaEnv;
use crate::rng::Rng;

/// Side of the square grid.
pub const SIZE: i32 = 10;
/// Number of actions: 0 no-op, 1 left, 2 right.
pub const NUM_ACTIONS: usize = 3;
/// MinAtar's full-set code of each minimal action (`n`, `l`, `r`).
pub const MINIMAL_ACTION_SET: [u8; NUM_ACTIONS] = [0, 1, 3];
/// Channels of the observation.
pub const CHANNELS: usize = 4;
/// Observation channel of the paddle.
pub const CH_PADDLE: usize = 0;
/// Observation channel of the ball.
pub const CH_BALL: usize = 1;
/// Observation channel of the ball's previous position.
pub const CH_TRAIL: usize = 2;
/// Observation channel of the bricks.
pub const CH_BRICK: usize = 3;
/// Bricks on rows 1–3: the map after a reset and after a respawn.
pub const FULL_BRICKS: u128 = ((1u128 << 30) - 1) << 10;

/// The observation of a board with [`FULL_BRICKS`] and nothing else: most observations
/// written from scratch (all those after a reset) start as a copy of it.
const FULL_BRICKS_OBS: [f32; 400] = {
    let mut obs = [0.0f32; 400];
    let mut cell = 10;
    while cell < 40 {
        obs[cell * CHANNELS + CH_BRICK] = 1.0;
        cell += 1;
    }
    obs
};

/// Paddle move of each minimal action: no-op, left, right.
const PADDLE_STEP: [i32; NUM_ACTIONS] = [0, -1, 1];

/// Ball directions as `(dx, dy)`: 0 up-left, 1 up-right, 2 down-right, 3 down-left.
const DELTA: [(i32, i32); 4] = [(-1, -1), (1, -1), (1, 1), (-1, 1)];
/// Direction after bouncing off a side wall.
const FLIP_X: [i32; 4] = [1, 0, 3, 2];
/// Direction after bouncing off the ceiling, a brick, or the paddle under the ball.
const FLIP_Y: [i32; 4] = [3, 2, 1, 0];
/// Direction after hitting the paddle's far side: the ball reverses along its diagonal.
const REVERSE: [i32; 4] = [2, 3, 0, 1];

pub use super::params::BreakoutParams;

soa_layout! {
    /// gymnax's Breakout `EnvState`. Positions are grid cells, `ball_dir` is in `0..4`.
    state BreakoutState,
    /// Breakout states of many environments, one array per field.
    soa BreakoutSoa,
    /// Mutable views of a range of a [`BreakoutSoa`].
    lanes BreakoutLanes {
        /// Ball row.
        ball_y: i32,
        /// Ball column.
        ball_x: i32,
        /// Ball direction (see the module docs).
        ball_dir: i32,
        /// Paddle column.
        pos: i32,
        /// Bricks, bit `y·10 + x`.
        brick_map: u128,
        /// The ball is inside a brick cell (set on the step after a hit, and when the ball
        /// enters a brick while already striking).
        strike: bool,
        /// Ball row before the last step (the trail).
        last_y: i32,
        /// Ball column before the last step (the trail).
        last_x: i32,
        /// Steps taken.
        time: i32,
        /// Natural termination (gymnax 1.0.1: excludes the time limit).
        terminal: bool,
    }
}

#[inline]
fn bit(y: i32, x: i32) -> u128 {
    1u128 << (y.clamp(0, SIZE - 1) * SIZE + x.clamp(0, SIZE - 1))
}

/// Writes `v` at cell `(y, x)` of channel `c`; an out-of-grid cell is dropped, as JAX's
/// scatter drops out-of-bounds updates.
#[inline]
fn put(out: &mut [f32], y: i32, x: i32, c: usize, v: f32) {
    if (0..SIZE).contains(&y) && (0..SIZE).contains(&x) {
        out[(y * SIZE + x) as usize * CHANNELS + c] = v;
    }
}

/// The Breakout environment (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Breakout;

impl Breakout {
    /// Number of bricks left.
    pub fn bricks_left(s: &BreakoutState) -> u32 {
        s.brick_map.count_ones()
    }

    /// Whether a brick is at `(y, x)`.
    pub fn brick_at(s: &BreakoutState, y: i32, x: i32) -> bool {
        (0..SIZE).contains(&y) && (0..SIZE).contains(&x) && s.brick_map & bit(y, x) != 0
    }
}

impl Env for Breakout {
    type Params = BreakoutParams;
    type State = BreakoutState;
    type Action = i32;
    /// 0: ball starts at the left edge moving down-right; 1: right edge, down-left.
    type ResetDraw = u8;
    type StepDraw = ();

    const ID: EnvId = EnvId::Breakout;
    const OBS_DIM: usize = 400;

    #[inline]
    fn sample_reset_draw(_params: &BreakoutParams, rng: &mut Rng) -> u8 {
        rng.below(2) as u8
    }

    #[inline]
    fn sample_step_draw(_rng: &mut Rng) {}

    #[inline]
    fn reset_from_draw(_params: &BreakoutParams, ball_start: u8) -> BreakoutState {
        let (x, dir) = if ball_start == 0 { (0, 2) } else { (9, 3) };
        BreakoutState {
            ball_y: 3,
            ball_x: x,
            ball_dir: dir,
            pos: 4,
            brick_map: FULL_BRICKS,
            strike: false,
            last_y: 3,
            last_x: x,
            time: 0,
            terminal: false,
        }
    }

    #[inline]
    fn step_with<F: FnOnce()>(
        params: &BreakoutParams,
        s: &mut BreakoutState,
        action: i32,
        _draw: F,
    ) -> Transition {
        // 1. Paddle (MinAtar's left and right, as a table: random actions would make a
        // branch on the action unpredictable).
        let step = PADDLE_STEP[jax_index(action, NUM_ACTIONS)];
        let moved = (s.pos + step).clamp(0, SIZE - 1);
        s.pos = if step == 0 { s.pos } else { moved };
        // 2. Ball candidate; the trail remembers where the ball was.
        let (old_x, old_y) = (s.ball_x, s.ball_y);
        let mut dir = s.ball_dir & 3;
        let (dx, dy) = DELTA[dir as usize];
        let (mut nx, mut ny) = (old_x + dx, old_y + dy);
        // 3. Side walls.
        if !(0..SIZE).contains(&nx) {
            nx = nx.clamp(0, SIZE - 1);
            dir = FLIP_X[dir as usize];
        }
        // 4. Ceiling, brick, or paddle row; the first that applies.
        let mut reward = 0.0f32;
        let ceiling = ny < 0;
        if ceiling {
            ny = 0;
            dir = FLIP_Y[dir as usize];
        }
        let strike_toggle = !ceiling && s.brick_map & bit(ny, nx) != 0;
        if strike_toggle && !s.strike {
            reward = 1.0;
            s.brick_map &= !bit(ny, nx);
            ny = old_y;
            dir = FLIP_Y[dir as usize];
        }
        let mut terminal = false;
        if !strike_toggle && ny == SIZE - 1 {
            if s.brick_map == 0 {
                s.brick_map = FULL_BRICKS;
            }
            if old_x == s.pos {
                // The paddle (already moved) is right under the ball.
                dir = FLIP_Y[dir as usize];
                ny = old_y;
            } else if nx == s.pos {
                dir = REVERSE[dir as usize];
                ny = old_y;
            } else {
                terminal = true;
            }
        }
        s.strike = strike_toggle;
        s.last_x = old_x;
        s.last_y = old_y;
        s.ball_x = nx;
        s.ball_y = ny;
        s.ball_dir = dir;
        s.time += 1;
        s.terminal = terminal;
        Transition {
            reward,
            terminated: terminal,
            truncated: s.time >= params.max_steps_in_episode,
        }
    }

    fn write_obs(_params: &BreakoutParams, s: &BreakoutState, out: &mut [f32]) {
        let out = &mut out[..Self::OBS_DIM];
        if s.brick_map == FULL_BRICKS {
            out.copy_from_slice(&FULL_BRICKS_OBS);
        } else {
            out.fill(0.0);
            let mut m = s.brick_map;
            while m != 0 {
                let b = m.trailing_zeros() as usize;
                if b < 100 {
                    out[b * CHANNELS + CH_BRICK] = 1.0;
                }
                m &= m - 1;
            }
        }
        put(out, SIZE - 1, s.pos, CH_PADDLE, 1.0);
        put(out, s.ball_y, s.ball_x, CH_BALL, 1.0);
        put(out, s.last_y, s.last_x, CH_TRAIL, 1.0);
    }

    #[inline]
    fn update_obs(
        _params: &BreakoutParams,
        old: &BreakoutState,
        new: &BreakoutState,
        out: &mut [f32],
    ) {
        let out = &mut out[..Self::OBS_DIM];
        if old.pos != new.pos {
            put(out, SIZE - 1, old.pos, CH_PADDLE, 0.0);
            put(out, SIZE - 1, new.pos, CH_PADDLE, 1.0);
        }
        if (old.ball_y, old.ball_x) != (new.ball_y, new.ball_x) {
            put(out, old.ball_y, old.ball_x, CH_BALL, 0.0);
            put(out, new.ball_y, new.ball_x, CH_BALL, 1.0);
        }
        if (old.last_y, old.last_x) != (new.last_y, new.last_x) {
            put(out, old.last_y, old.last_x, CH_TRAIL, 0.0);
            put(out, new.last_y, new.last_x, CH_TRAIL, 1.0);
        }
        let mut changed = old.brick_map ^ new.brick_map;
        while changed != 0 {
            let b = changed.trailing_zeros() as usize;
            if b < 100 {
                out[b * CHANNELS + CH_BRICK] = ((new.brick_map >> b) & 1) as f32;
            }
            changed &= changed - 1;
        }
    }
}

impl SoaEnv for Breakout {
    type Soa = BreakoutSoa;
    type Lanes<'a> = BreakoutLanes<'a>;
    const PAR_GRAIN: usize = 2048;

    fn soa_new(n: usize, fill: &BreakoutState) -> BreakoutSoa {
        BreakoutSoa::filled(n, fill)
    }
    fn soa_get(soa: &BreakoutSoa, i: usize) -> BreakoutState {
        soa.get(i)
    }
    fn soa_set(soa: &mut BreakoutSoa, i: usize, s: &BreakoutState) {
        soa.set(i, s)
    }
    fn lanes(soa: &mut BreakoutSoa) -> BreakoutLanes<'_> {
        soa.lanes()
    }
    fn split_lanes<'a>(l: Self::Lanes<'a>, mid: usize) -> (Self::Lanes<'a>, Self::Lanes<'a>) {
        l.split_at(mid)
    }
    #[inline(always)]
    fn load(l: &BreakoutLanes<'_>, i: usize) -> BreakoutState {
        l.load(i)
    }
    #[inline(always)]
    fn store(l: &mut BreakoutLanes<'_>, i: usize, s: &BreakoutState) {
        l.store(i, s)
    }
}

#[cfg(test)]
mod tests;
