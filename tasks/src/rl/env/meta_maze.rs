//! `MetaMaze-misc`: gymnax's meta-learning maze (`MetaMaze(maze_size=9, rf_size=3)`).
//!
//! An 11×11 grid (a 9×9 maze inside a one-cell wall border). The agent starts at the centre,
//! the goal is a uniformly drawn free cell, and reaching the goal pays a reward and
//! teleports the agent to a uniformly drawn free cell; the episode ends naturally only when
//! that teleport lands on the goal, so in practice it runs to the time limit.

use super::{jax_index, Env, EnvId, Transition};
use crate::rl::soa::soa_layout;
use crate::rl::vec_env::SoaEnv;
use crate::rng::Rng;

/// Side of the grid including the wall border.
pub const GRID: usize = 11;
/// Number of free cells; random draws index [`COORDS`].
pub const NUM_FREE: usize = 65;
/// Number of actions: 0 up, 1 right, 2 down, 3 left.
pub const NUM_ACTIONS: usize = 4;
/// Where every episode starts, `(y, x)`.
pub const START: (i32, i32) = (5, 5);
/// The move of each action as `(dy, dx)`.
pub const DIRECTIONS: [(i32, i32); NUM_ACTIONS] = [(-1, 0), (0, 1), (1, 0), (0, -1)];

/// Whether cell `(y, x)` of the grid is free (walkable).
pub const fn is_free(y: usize, x: usize) -> bool {
    y >= 1 && y <= 9 && x >= 1 && x <= 9 && (y % 2 == 1 || x % 2 == 1)
}

const fn free_cells() -> [(i32, i32); NUM_FREE] {
    let mut out = [(0, 0); NUM_FREE];
    let mut n = 0;
    let mut y = 0;
    while y < GRID {
        let mut x = 0;
        while x < GRID {
            if is_free(y, x) {
                out[n] = (y as i32, x as i32);
                n += 1;
            }
            x += 1;
        }
        y += 1;
    }
    out
}

/// The free cells in row-major order `(y, x)`: goal and teleport draws index this list.
pub const COORDS: [(i32, i32); NUM_FREE] = free_cells();

/// For each cell (`y * 11 + x`), the 3×3 wall window the agent sees there, bit `k` = window
/// entry `k` in row-major order (1 = wall). The window's corner is clamped into the grid,
/// as `lax.dynamic_slice` does, so that even a border cell has a defined observation.
const fn windows() -> [u16; GRID * GRID] {
    let mut out = [0u16; GRID * GRID];
    let mut y = 0;
    while y < GRID {
        let mut x = 0;
        while x < GRID {
            let y0 = if y == 0 {
                0
            } else if y - 1 > GRID - 3 {
                GRID - 3
            } else {
                y - 1
            };
            let x0 = if x == 0 {
                0
            } else if x - 1 > GRID - 3 {
                GRID - 3
            } else {
                x - 1
            };
            let mut m = 0u16;
            let mut k = 0;
            while k < 9 {
                if !is_free(y0 + k / 3, x0 + k % 3) {
                    m |= 1 << k;
                }
                k += 1;
            }
            out[y * GRID + x] = m;
            x += 1;
        }
        y += 1;
    }
    out
}

const WINDOWS: [u16; GRID * GRID] = windows();

/// [`WINDOWS`] as the nine observation floats, so that writing an observation is a copy.
const WINDOW_OBS: [[f32; 9]; GRID * GRID] = {
    let mut out = [[0.0f32; 9]; GRID * GRID];
    let mut c = 0;
    while c < GRID * GRID {
        let mut k = 0;
        while k < 9 {
            if WINDOWS[c] >> k & 1 == 1 {
                out[c][k] = 1.0;
            }
            k += 1;
        }
        c += 1;
    }
    out
};

/// One-hot rows of the four actions, and a row of zeros for an out-of-range action.
const ONE_HOT: [[f32; NUM_ACTIONS]; NUM_ACTIONS + 1] = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.0, 0.0, 0.0, 1.0],
    [0.0, 0.0, 0.0, 0.0],
];

/// Clamps a coordinate into the grid (JAX clamps gather indices the same way).
#[inline]
fn cell(y: i32, x: i32) -> usize {
    let y = y.clamp(0, GRID as i32 - 1) as usize;
    let x = x.clamp(0, GRID as i32 - 1) as usize;
    y * GRID + x
}

const fn free_map() -> [bool; GRID * GRID] {
    let mut out = [false; GRID * GRID];
    let mut c = 0;
    while c < GRID * GRID {
        out[c] = is_free(c / GRID, c % GRID);
        c += 1;
    }
    out
}

/// [`is_free`] for every cell `y * 11 + x`.
const FREE: [bool; GRID * GRID] = free_map();

#[inline]
fn free_at(y: i32, x: i32) -> bool {
    FREE[cell(y, x)]
}

pub use super::params::MetaMazeParams;

soa_layout! {
    /// gymnax's MetaMaze `EnvState` (`pos` and `goal` are `[y, x]` there).
    state MetaMazeState,
    /// MetaMaze states of many environments, one array per field.
    soa MetaMazeSoa,
    /// Mutable views of a range of a [`MetaMazeSoa`].
    lanes MetaMazeLanes {
        /// Agent row.
        pos_y: i32,
        /// Agent column.
        pos_x: i32,
        /// Goal row.
        goal_y: i32,
        /// Goal column.
        goal_x: i32,
        /// The previous action (0 after a reset).
        last_action: i32,
        /// The previous reward (0.0 after a reset).
        last_reward: f32,
        /// Steps taken, a float as in gymnax.
        time: f32,
    }
}

/// The MetaMaze environment (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct MetaMaze;

impl MetaMaze {
    /// The observation's time entry for step count `t`.
    #[inline]
    fn time_rep(params: &MetaMazeParams, t: f32) -> f32 {
        if params.normalize_time {
            // gymnax: (max − min) · t / t_max + min with min −1, max 1, t_max 100.
            2.0f32 * t / 100.0f32 + -1.0f32
        } else {
            t
        }
    }

    /// Where `action` takes the agent from `s` before any teleport, and whether it moved
    /// (false when the target cell is a wall, in which case the agent stays).
    #[inline]
    pub fn move_target(s: &MetaMazeState, action: i32) -> ((i32, i32), bool) {
        let (dy, dx) = DIRECTIONS[jax_index(action, NUM_ACTIONS)];
        let free = free_at(s.pos_y + dy, s.pos_x + dx);
        // Arithmetic rather than a branch: under random actions half the moves hit a wall,
        // which no branch predictor can guess.
        let m = i32::from(free);
        ((s.pos_y + m * dy, s.pos_x + m * dx), free)
    }
}

impl Env for MetaMaze {
    type Params = MetaMazeParams;
    type State = MetaMazeState;
    type Action = i32;
    /// Index of the goal in [`COORDS`].
    type ResetDraw = usize;
    /// Index of the teleport cell in [`COORDS`], used only when the goal is reached.
    type StepDraw = usize;

    const ID: EnvId = EnvId::MetaMaze;
    const OBS_DIM: usize = 15;

    #[inline]
    fn sample_reset_draw(_params: &MetaMazeParams, rng: &mut Rng) -> usize {
        rng.below(NUM_FREE as u64) as usize
    }

    #[inline]
    fn sample_step_draw(rng: &mut Rng) -> usize {
        rng.below(NUM_FREE as u64) as usize
    }

    #[inline]
    fn reset_from_draw(_params: &MetaMazeParams, goal_index: usize) -> MetaMazeState {
        let (goal_y, goal_x) = COORDS[goal_index.min(NUM_FREE - 1)];
        MetaMazeState {
            pos_y: START.0,
            pos_x: START.1,
            goal_y,
            goal_x,
            last_action: 0,
            last_reward: 0.0,
            time: 0.0,
        }
    }

    #[inline]
    fn step_with<F: FnOnce() -> usize>(
        params: &MetaMazeParams,
        s: &mut MetaMazeState,
        action: i32,
        draw: F,
    ) -> Transition {
        let ((mut y, mut x), in_map) = Self::move_target(s, action);
        // Staying on the goal after bumping a wall counts as reaching it again.
        let goal_reached = y == s.goal_y && x == s.goal_x;
        let reward = f32::from(u8::from(goal_reached)) * params.reward
            + f32::from(u8::from(!in_map)) * params.punishment;
        if goal_reached {
            (y, x) = COORDS[draw().min(NUM_FREE - 1)];
        }
        s.pos_y = y;
        s.pos_x = x;
        s.last_action = action;
        s.last_reward = reward;
        s.time += 1.0;
        Transition {
            reward,
            // Checked after the teleport: only a teleport onto the goal ends the episode.
            terminated: y == s.goal_y && x == s.goal_x,
            truncated: s.time >= params.max_steps_in_episode as f32,
        }
    }

    #[inline]
    fn write_obs(params: &MetaMazeParams, s: &MetaMazeState, out: &mut [f32]) {
        let out = &mut out[..Self::OBS_DIM];
        out[..9].copy_from_slice(&WINDOW_OBS[cell(s.pos_y, s.pos_x)]);
        // jax.nn.one_hot gives all zeros for an action outside 0..4.
        let a = if (0..NUM_ACTIONS as i32).contains(&s.last_action) {
            s.last_action as usize
        } else {
            NUM_ACTIONS
        };
        out[9..13].copy_from_slice(&ONE_HOT[a]);
        out[13] = s.last_reward;
        out[14] = Self::time_rep(params, s.time);
    }
}

impl SoaEnv for MetaMaze {
    type Soa = MetaMazeSoa;
    type Lanes<'a> = MetaMazeLanes<'a>;
    const PAR_GRAIN: usize = 4096;

    fn soa_new(n: usize, fill: &MetaMazeState) -> MetaMazeSoa {
        MetaMazeSoa::filled(n, fill)
    }
    fn soa_get(soa: &MetaMazeSoa, i: usize) -> MetaMazeState {
        soa.get(i)
    }
    fn soa_set(soa: &mut MetaMazeSoa, i: usize, s: &MetaMazeState) {
        soa.set(i, s)
    }
    fn lanes(soa: &mut MetaMazeSoa) -> MetaMazeLanes<'_> {
        soa.lanes()
    }
    fn split_lanes<'a>(l: Self::Lanes<'a>, mid: usize) -> (Self::Lanes<'a>, Self::Lanes<'a>) {
        l.split_at(mid)
    }
    #[inline(always)]
    fn load(l: &MetaMazeLanes<'_>, i: usize) -> MetaMazeState {
        l.load(i)
    }
    #[inline(always)]
    fn store(l: &mut MetaMazeLanes<'_>, i: usize, s: &MetaMazeState) {
        l.store(i, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> MetaMazeParams {
        MetaMazeParams::default()
    }

    fn state(pos: (i32, i32), goal: (i32, i32), time: f32) -> MetaMazeState {
        MetaMazeState {
            pos_y: pos.0,
            pos_x: pos.1,
            goal_y: goal.0,
            goal_x: goal.1,
            last_action: 0,
            last_reward: 0.0,
            time,
        }
    }

    #[test]
    fn map_has_65_free_cells_in_row_major_order() {
        assert_eq!(COORDS[0], (1, 1));
        assert_eq!(COORDS[9], (2, 1));
        assert_eq!(COORDS[64], (9, 9));
        assert!(COORDS.contains(&START));
        for w in COORDS.windows(2) {
            assert!(w[0] < w[1]);
        }
        assert!(!is_free(2, 2) && is_free(2, 3) && is_free(3, 2) && !is_free(0, 5));
    }

    #[test]
    fn reset_starts_at_centre_with_one_hot_up() {
        let s = MetaMaze::reset_from_draw(&params(), 19);
        assert_eq!((s.pos_y, s.pos_x, s.goal_y, s.goal_x), (5, 5, 3, 6));
        let obs = MetaMaze::obs(&params(), &s);
        // Centre of a corridor crossing: walls only on the diagonals.
        assert_eq!(&obs[..9], &[1., 0., 1., 0., 0., 0., 1., 0., 1.]);
        assert_eq!(&obs[9..], &[1., 0., 0., 0., 0., 0.]);
    }

    #[test]
    fn wall_blocks_the_move_and_counts_time() {
        // (1,1) is a corner: up and left are walls.
        let mut s = state((1, 1), (9, 9), 0.0);
        let tr = MetaMaze::step_with(&params(), &mut s, 0, || unreachable!());
        assert_eq!((s.pos_y, s.pos_x), (1, 1));
        assert_eq!(
            tr,
            Transition {
                reward: 0.0,
                terminated: false,
                truncated: false
            }
        );
        assert_eq!((s.last_action, s.time), (0, 1.0));
        let tr = MetaMaze::step_with(&params(), &mut s, 1, || unreachable!());
        assert_eq!((s.pos_y, s.pos_x), (1, 2));
        assert!(!tr.done());
        let obs = MetaMaze::obs(&params(), &s);
        assert_eq!(&obs[9..], &[0., 1., 0., 0., 0., 2.]);
    }

    #[test]
    fn reaching_the_goal_pays_and_teleports_without_ending() {
        let mut s = state((5, 5), (5, 6), 3.0);
        let tr = MetaMaze::step_with(&params(), &mut s, 1, || 0);
        assert_eq!(tr.reward, 10.0);
        assert!(!tr.terminated && !tr.truncated);
        assert_eq!((s.pos_y, s.pos_x), COORDS[0]);
        assert_eq!(s.last_reward, 10.0);
        assert_eq!(MetaMaze::obs(&params(), &s)[13], 10.0);
    }

    #[test]
    fn teleport_onto_the_goal_terminates() {
        let goal = COORDS[40];
        let mut s = state((goal.0, goal.1 - 1), goal, 0.0);
        let tr = MetaMaze::step_with(&params(), &mut s, 1, || 40);
        assert_eq!(
            tr,
            Transition {
                reward: 10.0,
                terminated: true,
                truncated: false
            }
        );
    }

    #[test]
    fn bumping_a_wall_while_on_the_goal_reaches_it_again() {
        let mut s = state((1, 1), (1, 1), 0.0);
        let tr = MetaMaze::step_with(&params(), &mut s, 3, || 64);
        assert_eq!(tr.reward, 10.0);
        assert_eq!((s.pos_y, s.pos_x), (9, 9));
    }

    #[test]
    fn time_limit_truncates_at_200() {
        let mut s = state((5, 5), (9, 9), 198.0);
        assert!(!MetaMaze::step_with(&params(), &mut s, 0, || 0).truncated);
        let tr = MetaMaze::step_with(&params(), &mut s, 0, || 0);
        assert!(tr.truncated && !tr.terminated && tr.done());
        assert_eq!(s.time, 200.0);
    }

    #[test]
    fn autoreset_replaces_state_but_keeps_the_real_reward() {
        let goal = COORDS[7];
        let mut s = state((goal.0, goal.1 - 1), goal, 10.0);
        let tr = MetaMaze::step_autoreset(&params(), &mut s, 1, || 7, || 3);
        assert!(tr.terminated);
        assert_eq!(tr.reward, 10.0);
        assert_eq!(s, MetaMaze::reset_from_draw(&params(), 3));
    }

    #[test]
    fn invalid_actions_follow_jax_indexing() {
        let mut a = state((5, 5), (9, 9), 0.0);
        let mut b = a;
        MetaMaze::step_with(&params(), &mut a, -1, || 0);
        MetaMaze::step_with(&params(), &mut b, 3, || 0);
        assert_eq!((a.pos_y, a.pos_x), (b.pos_y, b.pos_x));
        // The one-hot of an out-of-range action is all zeros, as jax.nn.one_hot gives.
        assert_eq!(&MetaMaze::obs(&params(), &a)[9..13], &[0.0; 4]);
    }

    #[test]
    fn normalized_time_maps_0_to_minus_one() {
        let p = MetaMazeParams {
            normalize_time: true,
            ..params()
        };
        let s = state((5, 5), (9, 9), 50.0);
        assert_eq!(MetaMaze::obs(&p, &s)[14], 0.0);
        assert_eq!(MetaMaze::obs(&p, &state((5, 5), (9, 9), 0.0))[14], -1.0);
    }
}
