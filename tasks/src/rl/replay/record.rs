//! How each environment's params, draws, actions and states are written in the reference
//! trajectory files, and how two states are compared (floats by their bits, so that −0.0
//! and 0.0 differ as they do in the files).

use super::json::{FieldError, Node};
use crate::rl::env::breakout::{self, Breakout, BreakoutParams, BreakoutState};
use crate::rl::env::meta_maze::{self, MetaMaze, MetaMazeParams, MetaMazeState};
use crate::rl::env::mountain_car::{MountainCar, MountainCarParams, MountainCarState};
use crate::rl::env::Env;

/// The file format of one environment.
pub(crate) trait Record: Env {
    /// The `params` object of the `meta` line (every field of gymnax's `EnvParams`).
    fn parse_params(p: &Node) -> Result<Self::Params, FieldError>;
    /// The `draw` object of a `reset` line or of an `autoreset`.
    fn parse_reset_draw(d: &Node) -> Result<Self::ResetDraw, FieldError>;
    /// The outcome of the step's random draw, from the `step` line.
    fn parse_step_draw(line: &Node) -> Result<Self::StepDraw, FieldError>;
    /// The `action` of a `step` line.
    fn parse_action(line: &Node) -> Result<Self::Action, FieldError>;
    /// A `state` object.
    fn parse_state(s: &Node) -> Result<Self::State, FieldError>;
    /// The observation of the object holding `obs` (a step line or an autoreset).
    fn parse_obs(o: &Node) -> Result<Vec<f32>, FieldError> {
        o.f32_vec("obs", "obs_bits")
    }
    /// The reward of a step line.
    fn parse_reward(line: &Node) -> Result<f32, FieldError> {
        line.f32_field("reward", "reward_bits")
    }
    /// Appends one description per field where `ours` and `rec` differ.
    fn diff_state(ours: &Self::State, rec: &Self::State, out: &mut Vec<String>);
    /// Checks what a step line records beyond state and obs (MetaMaze's `draw` details).
    fn check_step_extras(
        _params: &Self::Params,
        _start: &Self::State,
        _action: Self::Action,
        _line: &Node,
        _out: &mut Vec<String>,
    ) -> Result<(), FieldError> {
        Ok(())
    }
}

/// Rejects keys of a params object that the environment does not model, so that a file
/// recorded with a parameter we ignore is not silently replayed with the wrong rules.
fn known_keys(p: &Node, keys: &[&str]) -> Result<(), FieldError> {
    for k in p.keys()? {
        if !keys.contains(&k) {
            return Err(p.get(k)?.err(format!(
                "is not a parameter of this environment (known: {})",
                keys.join(", ")
            )));
        }
    }
    Ok(())
}

fn diff_int(name: &str, a: i64, b: i64, out: &mut Vec<String>) {
    if a != b {
        out.push(format!("{name}: ours {a}, recorded {b}"));
    }
}

fn diff_bool(name: &str, a: bool, b: bool, out: &mut Vec<String>) {
    if a != b {
        out.push(format!("{name}: ours {a}, recorded {b}"));
    }
}

/// Compares float32 values by their bits.
pub(crate) fn diff_f32(name: &str, a: f32, b: f32, out: &mut Vec<String>) {
    if a.to_bits() != b.to_bits() {
        out.push(format!(
            "{name}: ours {a:?} ({:08x}), recorded {b:?} ({:08x})",
            a.to_bits(),
            b.to_bits()
        ));
    }
}

fn max_steps(p: &Node) -> Result<i32, FieldError> {
    p.get("max_steps_in_episode")?.int_in(0, i32::MAX as i64)
}

impl Record for MetaMaze {
    fn parse_params(p: &Node) -> Result<MetaMazeParams, FieldError> {
        known_keys(
            p,
            &[
                "max_steps_in_episode",
                "reward",
                "punishment",
                "normalize_time",
            ],
        )?;
        let d = MetaMazeParams::default();
        Ok(MetaMazeParams {
            reward: p.opt("reward").map_or(Ok(d.reward), |n| n.f32())?,
            punishment: p.opt("punishment").map_or(Ok(d.punishment), |n| n.f32())?,
            normalize_time: p
                .opt("normalize_time")
                .map_or(Ok(d.normalize_time), |n| n.bool())?,
            max_steps_in_episode: p
                .opt("max_steps_in_episode")
                .map_or(Ok(d.max_steps_in_episode), |_| max_steps(p))?,
        })
    }

    fn parse_reset_draw(d: &Node) -> Result<usize, FieldError> {
        Ok(d.get("goal_index")?
            .int_in(0, meta_maze::NUM_FREE as i64 - 1)? as usize)
    }

    fn parse_step_draw(line: &Node) -> Result<usize, FieldError> {
        let d = line.get("draw")?.get("pos_sampled_index")?;
        Ok(d.int_in(0, meta_maze::NUM_FREE as i64 - 1)? as usize)
    }

    fn parse_action(line: &Node) -> Result<i32, FieldError> {
        line.get("action")?.int_in(i32::MIN as i64, i32::MAX as i64)
    }

    fn parse_state(s: &Node) -> Result<MetaMazeState, FieldError> {
        let cell = |key: &str| -> Result<(i32, i32), FieldError> {
            let yx = s.get(key)?.items_n(2)?;
            let hi = meta_maze::GRID as i64 - 1;
            Ok((yx[0].int_in(0, hi)?, yx[1].int_in(0, hi)?))
        };
        let (pos_y, pos_x) = cell("pos")?;
        let (goal_y, goal_x) = cell("goal")?;
        Ok(MetaMazeState {
            pos_y,
            pos_x,
            goal_y,
            goal_x,
            last_action: s
                .get("last_action")?
                .int_in(i32::MIN as i64, i32::MAX as i64)?,
            last_reward: s.get("last_reward")?.f32()?,
            time: s.get("time")?.f32()?,
        })
    }

    fn diff_state(a: &MetaMazeState, b: &MetaMazeState, out: &mut Vec<String>) {
        if (a.pos_y, a.pos_x) != (b.pos_y, b.pos_x) {
            out.push(format!(
                "pos: ours [{}, {}], recorded [{}, {}]",
                a.pos_y, a.pos_x, b.pos_y, b.pos_x
            ));
        }
        if (a.goal_y, a.goal_x) != (b.goal_y, b.goal_x) {
            out.push(format!(
                "goal: ours [{}, {}], recorded [{}, {}]",
                a.goal_y, a.goal_x, b.goal_y, b.goal_x
            ));
        }
        diff_int(
            "last_action",
            a.last_action.into(),
            b.last_action.into(),
            out,
        );
        diff_f32("last_reward", a.last_reward, b.last_reward, out);
        diff_f32("time", a.time, b.time, out);
    }

    fn check_step_extras(
        _params: &MetaMazeParams,
        start: &MetaMazeState,
        action: i32,
        line: &Node,
        out: &mut Vec<String>,
    ) -> Result<(), FieldError> {
        let draw = line.get("draw")?;
        let index = Self::parse_step_draw(line)?;
        let cell = draw.get("pos_sampled")?.items_n(2)?;
        let (y, x) = (cell[0].i64()?, cell[1].i64()?);
        let want = meta_maze::COORDS[index];
        if (y, x) != (want.0.into(), want.1.into()) {
            out.push(format!(
                "draw.pos_sampled: recorded [{y}, {x}] but free cell #{index} is [{}, {}]",
                want.0, want.1
            ));
        }
        let ((ny, nx), moved) = Self::move_target(start, action);
        let reached = (ny, nx) == (start.goal_y, start.goal_x);
        if let Some(m) = draw.opt("moved") {
            diff_bool("draw.moved", moved, m.bool()?, out);
        }
        if let Some(g) = draw.opt("goal_reached") {
            diff_bool("draw.goal_reached", reached, g.bool()?, out);
        }
        Ok(())
    }
}

impl Record for MountainCar {
    fn parse_params(p: &Node) -> Result<MountainCarParams, FieldError> {
        known_keys(
            p,
            &[
                "max_steps_in_episode",
                "min_action",
                "max_action",
                "min_position",
                "max_position",
                "max_speed",
                "goal_position",
                "goal_velocity",
                "power",
                "gravity",
            ],
        )?;
        let d = MountainCarParams::default();
        let f = |key: &str, default: f32| p.opt(key).map_or(Ok(default), |n| n.f32());
        Ok(MountainCarParams {
            min_action: f("min_action", d.min_action)?,
            max_action: f("max_action", d.max_action)?,
            min_position: f("min_position", d.min_position)?,
            max_position: f("max_position", d.max_position)?,
            max_speed: f("max_speed", d.max_speed)?,
            goal_position: f("goal_position", d.goal_position)?,
            goal_velocity: f("goal_velocity", d.goal_velocity)?,
            power: f("power", d.power)?,
            gravity: f("gravity", d.gravity)?,
            max_steps_in_episode: p
                .opt("max_steps_in_episode")
                .map_or(Ok(d.max_steps_in_episode), |_| max_steps(p))?,
        })
    }

    fn parse_reset_draw(d: &Node) -> Result<f32, FieldError> {
        d.f32_field("position", "position_bits")
    }

    fn parse_step_draw(_line: &Node) -> Result<(), FieldError> {
        Ok(())
    }

    fn parse_action(line: &Node) -> Result<f32, FieldError> {
        if let Some(b) = line.opt("action_bits") {
            return b.f32_bits();
        }
        let a = line.get("action")?;
        // MLGym passes a shape-(1,) array; accept it written either way.
        match a.items() {
            Ok(items) if items.len() == 1 => items[0].f32(),
            _ => a.f32(),
        }
    }

    fn parse_state(s: &Node) -> Result<MountainCarState, FieldError> {
        Ok(MountainCarState {
            position: s.f32_field("position", "position_bits")?,
            velocity: s.f32_field("velocity", "velocity_bits")?,
            time: s.get("time")?.int_in(i32::MIN as i64, i32::MAX as i64)?,
        })
    }

    fn diff_state(a: &MountainCarState, b: &MountainCarState, out: &mut Vec<String>) {
        diff_f32("position", a.position, b.position, out);
        diff_f32("velocity", a.velocity, b.velocity, out);
        diff_int("time", a.time.into(), b.time.into(), out);
    }
}

impl Record for Breakout {
    fn parse_params(p: &Node) -> Result<BreakoutParams, FieldError> {
        known_keys(p, &["max_steps_in_episode"])?;
        let d = BreakoutParams::default();
        Ok(BreakoutParams {
            max_steps_in_episode: p
                .opt("max_steps_in_episode")
                .map_or(Ok(d.max_steps_in_episode), |_| max_steps(p))?,
        })
    }

    fn parse_reset_draw(d: &Node) -> Result<u8, FieldError> {
        Ok(d.get("ball_start")?.int_in(0, 1)? as u8)
    }

    fn parse_step_draw(_line: &Node) -> Result<(), FieldError> {
        Ok(())
    }

    fn parse_action(line: &Node) -> Result<i32, FieldError> {
        line.get("action")?.int_in(i32::MIN as i64, i32::MAX as i64)
    }

    fn parse_state(s: &Node) -> Result<BreakoutState, FieldError> {
        let cell = |key: &str| s.get(key)?.int_in(0, breakout::SIZE as i64 - 1);
        let mut brick_map = 0u128;
        for (i, b) in s.get("brick_map")?.items_n(100)?.iter().enumerate() {
            let v = b.f64()?;
            if v == 1.0 {
                brick_map |= 1u128 << i;
            } else if v != 0.0 {
                return Err(b.err(format!("must be 0.0 or 1.0, found {v}")));
            }
        }
        Ok(BreakoutState {
            ball_y: cell("ball_y")?,
            ball_x: cell("ball_x")?,
            ball_dir: s.get("ball_dir")?.int_in(0, 3)?,
            pos: cell("pos")?,
            brick_map,
            strike: s.get("strike")?.bool()?,
            last_y: cell("last_y")?,
            last_x: cell("last_x")?,
            time: s.get("time")?.int_in(i32::MIN as i64, i32::MAX as i64)?,
            terminal: s.get("terminal")?.bool()?,
        })
    }

    fn diff_state(a: &BreakoutState, b: &BreakoutState, out: &mut Vec<String>) {
        diff_int("ball_y", a.ball_y.into(), b.ball_y.into(), out);
        diff_int("ball_x", a.ball_x.into(), b.ball_x.into(), out);
        diff_int("ball_dir", a.ball_dir.into(), b.ball_dir.into(), out);
        diff_int("pos", a.pos.into(), b.pos.into(), out);
        diff_int("last_y", a.last_y.into(), b.last_y.into(), out);
        diff_int("last_x", a.last_x.into(), b.last_x.into(), out);
        diff_int("time", a.time.into(), b.time.into(), out);
        diff_bool("strike", a.strike, b.strike, out);
        diff_bool("terminal", a.terminal, b.terminal, out);
        let changed = a.brick_map ^ b.brick_map;
        if changed != 0 {
            let cells: Vec<String> = (0..100)
                .filter(|i| changed >> i & 1 == 1)
                .map(|i| format!("({},{})", i / 10, i % 10))
                .collect();
            out.push(format!("brick_map differs at (y,x) {}", cells.join(" ")));
        }
    }
}
