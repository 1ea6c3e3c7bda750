#!/usr/bin/env python3
"""Record gymnax trajectories that reach the rules random play rarely reaches.

The reference files in shared/reference/gymnax hold uniformly random play only. This script
records, in the same JSON Lines schema (see shared/reference/gymnax/README.md), trajectories
of other policies and hand-made single steps, computed by gymnax itself with per-step
`jit(step_env)` (the context the reference files pin down):

  MetaMaze-misc/goal_seeking        shortest-path policy: many goal hits and teleports,
                                    truncation at t=200, a teleport onto the goal
  MountainCarContinuous-v0/pump     energy pumping with actions of varied size (some clipped)
                                    until the goal is reached (terminated + auto-reset)
  Breakout-MinAtar/tracking         a paddle that follows the ball: long episodes, the wall
                                    cleared and respawned, truncation at t=1000
  */edge_cases                      one or a few steps from injected states: walls, the
                                    goal-side velocity zeroing (-0.0), clipping, invalid
                                    actions, time limits, brick respawn, goal-side rewards

An injected episode's `reset` line has `"injected": true` and no `draw`: the replay starts
from its recorded state instead of rebuilding it from a draw.

Usage: python rl_envs_golden.py OUT_DIR      (needs gymnax 1.0.1 and jax, CPU)
The Rust tests read the output from tasks/tests/rl_fixtures/.
"""

import gzip
import importlib.metadata
import json
import os
import sys
from collections import deque
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import gymnax

jax.config.update("jax_platform_name", "cpu")


def f32(x):
    return float(np.float32(x))


def bits(x):
    return format(int(np.asarray(np.float32(x)).view(np.uint32)), "08x")


def key_list(k):
    return [int(v) for v in np.asarray(k).ravel()]


class Recorder:
    def __init__(self, name):
        self.name = name
        self.env, self.params = gymnax.make(name)
        self.step_env = jax.jit(self.env.step_env)
        self.reset_env = jax.jit(self.env.reset_env)
        self.env_step = jax.jit(self.env.step)
        self.lines = []
        self.episode = 0

    # ---- per-environment encodings -------------------------------------------------
    def state_json(self, s):
        if self.name == "MetaMaze-misc":
            return {
                "time": f32(s.time),
                "last_action": int(s.last_action),
                "last_reward": f32(s.last_reward),
                "pos": [int(v) for v in np.asarray(s.pos)],
                "goal": [int(v) for v in np.asarray(s.goal)],
            }
        if self.name == "MountainCarContinuous-v0":
            return {
                "time": int(s.time),
                "position": f32(s.position),
                "position_bits": bits(s.position),
                "velocity": f32(s.velocity),
                "velocity_bits": bits(s.velocity),
            }
        return {
            "time": int(s.time),
            "ball_y": int(s.ball_y),
            "ball_x": int(s.ball_x),
            "ball_dir": int(s.ball_dir),
            "pos": int(s.pos),
            "last_y": int(s.last_y),
            "last_x": int(s.last_x),
            "brick_map": [f32(v) for v in np.asarray(s.brick_map).ravel()],
            "strike": bool(s.strike),
            "terminal": bool(s.terminal),
        }

    def obs_fields(self, obs):
        flat = np.asarray(obs, dtype=np.float32).ravel()
        out = {"obs": [f32(v) for v in flat]}
        if self.name == "MountainCarContinuous-v0":
            out["obs_bits"] = [bits(v) for v in flat]
        return out

    def reset_draw(self, key, s):
        if self.name == "MetaMaze-misc":
            idx = int(jax.random.randint(key, (), 0, self.env.coords.shape[0]))
            assert list(np.asarray(self.env.coords[idx])) == list(np.asarray(s.goal))
            return {"goal_index": idx}
        if self.name == "MountainCarContinuous-v0":
            return {"position": f32(s.position), "position_bits": bits(s.position)}
        return {"ball_start": 0 if int(s.ball_x) == 0 else 1}

    def action_arg(self, a):
        if self.name == "MountainCarContinuous-v0":
            return jnp.array([a], dtype=jnp.float32)
        return jnp.int32(a)

    # ---- recording -----------------------------------------------------------------
    def episode_run(self, policy, max_t, reset_seed=0, step_seed=0, injected=None):
        """Records one episode: reset (or injected state), then steps until done or max_t."""
        p = self.params
        e = self.episode
        self.episode += 1
        line = {"kind": "reset", "episode": e, "step_seed": step_seed}
        if injected is None:
            rkey = jax.random.PRNGKey(reset_seed)
            obs, state = self.reset_env(rkey, p)
            line.update(reset_seed=reset_seed, reset_key=key_list(rkey))
            line["draw"] = self.reset_draw(rkey, state)
        else:
            state = injected
            obs = self.env.get_obs(state, p) if self.name == "MetaMaze-misc" else self.env.get_obs(state)
            line["injected"] = True
        line.update(self.obs_fields(obs))
        line["state"] = self.state_json(state)
        self.lines.append(line)
        for t in range(max_t):
            big_k = jax.random.fold_in(jax.random.PRNGKey(step_seed), t)
            k_step, k_reset = jax.random.split(big_k)
            a = policy(state, t)
            act = self.action_arg(a)
            obs2, s2, r, term, _ = self.step_env(k_step, state, act, p)
            term = bool(term)
            trunc = bool(s2.time >= p.max_steps_in_episode)
            done = term or trunc
            line = {
                "kind": "step",
                "episode": e,
                "t": t,
                "action": f32(a) if self.name == "MountainCarContinuous-v0" else int(a),
                "step_key": key_list(big_k),
                "k_step": key_list(k_step),
                "reward": f32(r),
                "terminated": term,
                "truncated": trunc,
                "done": done,
                "discount": 0.0 if term else 1.0,
            }
            line.update(self.obs_fields(obs2))
            line["state"] = self.state_json(s2)
            if self.name == "MetaMaze-misc":
                idx = int(jax.random.randint(k_step, (), 0, self.env.coords.shape[0]))
                target = np.asarray(state.pos) + np.asarray(self.env.directions[int(np.clip(a if a >= 0 else a + 4, 0, 3))])
                moved = bool(self.env.env_map[int(target[0]), int(target[1])])
                new_pos = target if moved else np.asarray(state.pos)
                line["draw"] = {
                    "pos_sampled_index": idx,
                    "pos_sampled": [int(v) for v in np.asarray(self.env.coords[idx])],
                    "goal_reached": bool((new_pos == np.asarray(state.goal)).all()),
                    "moved": moved,
                }
            if self.name == "MountainCarContinuous-v0":
                line["action_bits"] = bits(a)
                line["reward_bits"] = bits(r)
            if done:
                obs_re, st_re = self.reset_env(k_reset, p)
                # gymnax's own auto-reset must agree with reset_env(k_reset).
                o3, s3, r3, te3, tr3, _ = self.env_step(big_k, state, act, p)
                assert np.array_equal(np.asarray(o3), np.asarray(obs_re))
                assert bool(te3) == term and bool(tr3) == trunc
                auto = {"k_reset": key_list(k_reset), "draw": self.reset_draw(k_reset, st_re)}
                auto.update(self.obs_fields(obs_re))
                auto["state"] = self.state_json(st_re)
                line["autoreset"] = auto
            self.lines.append(line)
            if done:
                return t + 1, line
            state = s2
        return max_t, None

    def write(self, out_dir, set_name, description):
        d = os.path.join(out_dir, self.name)
        os.makedirs(d, exist_ok=True)
        params = {}
        for k, v in vars(self.params).items():
            params[k] = v.item() if hasattr(v, "item") else v
        meta = {
            "kind": "meta",
            "env": self.name,
            "set": set_name,
            "description": description,
            "gymnax": importlib.metadata.version("gymnax"),
            "jax": jax.__version__,
            "params": params,
        }
        path = os.path.join(d, set_name + ".jsonl.gz")
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            for line in [meta] + self.lines:
                f.write((json.dumps(line, separators=(",", ":")) + "\n").encode())
        steps = sum(1 for l in self.lines if l["kind"] == "step")
        print(f"{path}: {self.episode} episodes, {steps} steps")


# ---- MetaMaze ------------------------------------------------------------------------
def maze_policy(rec, rs, eps):
    free = np.asarray(rec.env.env_map)
    dirs = [(-1, 0), (0, 1), (1, 0), (0, -1)]

    def first_move(pos, goal):
        if pos == goal:
            # Standing on the goal: bump a wall if possible so the goal is reached again.
            for a, (dy, dx) in enumerate(dirs):
                if not free[pos[0] + dy, pos[1] + dx]:
                    return a
            return 0
        prev = {pos: None}
        q = deque([pos])
        while q:
            c = q.popleft()
            if c == goal:
                break
            for a, (dy, dx) in enumerate(dirs):
                n = (c[0] + dy, c[1] + dx)
                if free[n] and n not in prev:
                    prev[n] = (c, a)
                    q.append(n)
        c, a = goal, 0
        while prev[c] is not None and prev[c][0] != pos:
            c = prev[c][0]
        return prev[c][1]

    def policy(s, t):
        if rs.rand() < eps:
            return int(rs.randint(0, 4))
        pos = tuple(int(v) for v in np.asarray(s.pos))
        goal = tuple(int(v) for v in np.asarray(s.goal))
        return first_move(pos, goal)

    return policy


def meta_maze(out_dir):
    from gymnax.environments.misc.meta_maze import EnvState

    rec = Recorder("MetaMaze-misc")
    terminated_seen = 0
    for e in range(6):
        rs = np.random.RandomState(3000 + e)
        _, last = rec.episode_run(maze_policy(rec, rs, 0.1), 300, reset_seed=e, step_seed=200000 + e)
        terminated_seen += int(last is not None and last["terminated"])
    # A teleport onto the goal: find a step seed whose first teleport draw is the goal cell.
    goal_idx = 40
    goal = [int(v) for v in np.asarray(rec.env.coords[goal_idx])]
    seed = 0
    while True:
        k_step, _ = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 0))
        if int(jax.random.randint(k_step, (), 0, 65)) == goal_idx:
            break
        seed += 1
    start = goal[:]
    start[1] -= 1 if rec.env.env_map[goal[0], goal[1] - 1] else -1
    act = 1 if start[1] < goal[1] else 3

    def inj(pos, goal_yx, time, last_action=0, last_reward=0.0):
        return EnvState(
            last_action=jnp.int32(last_action),
            last_reward=jnp.float32(last_reward),
            pos=jnp.array(pos, dtype=jnp.int32),
            goal=jnp.array(goal_yx, dtype=jnp.int32),
            time=jnp.float32(time),
        )

    _, last = rec.episode_run(lambda s, t: act, 1, step_seed=seed, injected=inj(start, goal, 5.0))
    assert last is not None and last["terminated"], "teleport onto the goal did not terminate"
    # Goal reached on the very step the time limit hits: reward, truncated, not terminated.
    rec.episode_run(lambda s, t: 1, 1, step_seed=7, injected=inj([5, 4], [5, 5], 199.0))
    # Bumping a wall while standing on the goal reaches it again.
    rec.episode_run(lambda s, t: 0, 2, step_seed=8, injected=inj([1, 1], [1, 1], 0.0))
    # Out-of-range actions: JAX wraps negatives once, clamps, and one-hot gives zeros.
    for a in (-1, -4, 4, 9):
        rec.episode_run(lambda s, t, a=a: a, 2, step_seed=9, injected=inj([5, 5], [9, 9], 3.0))
    rec.write(out_dir, "goal_seeking", "shortest-path policy with 10% random actions "
              "(np.random.RandomState(3000+e)); reset_seed=e; step_seed=200000+e; then "
              "injected single steps: teleport onto the goal, goal at the time limit, "
              "wall bump on the goal, out-of-range actions")


# ---- MountainCar ---------------------------------------------------------------------
def mountain_car(out_dir):
    from gymnax.environments.classic_control.continuous_mountain_car import EnvState

    rec = Recorder("MountainCarContinuous-v0")
    mags = [1.0, 1.4, 0.6, 2.5, 0.9, 1.1, 0.3]
    for e in range(4):
        def pump(s, t, e=e):
            m = np.float32(mags[(t + e) % len(mags)])
            return m if float(s.velocity) > 0 else -m
        n, last = rec.episode_run(pump, 999, reset_seed=e, step_seed=300000 + e)
        assert last is not None and last["terminated"], f"pump episode {e} did not reach the goal"

    def inj(p, v, time=0):
        return EnvState(position=jnp.float32(p), velocity=jnp.float32(v), time=jnp.int32(time))

    cases = [
        (0.6, -0.001, -1.0),    # right wall rolling back: velocity becomes -0.0, terminated
        (0.5, -0.01, 0.3),      # goal side moving left
        (0.46, -0.07, -2.0),    # leaves the goal side: no zeroing
        (-1.19, -0.07, -1.0),   # left wall: clipped position, velocity kept
        (-0.5, 0.0699, 1.0),    # speed limit
        (-0.5, -0.0699, -3.0),  # speed limit, clipped force
        (0.449, 0.001, 0.0),    # a hair from the goal
        (-0.5, 0.0, 1e19),      # a*a near the float32 maximum: huge penalty
    ]
    for p, v, a in cases:
        rec.episode_run(lambda s, t, a=a: np.float32(a), 1, step_seed=1, injected=inj(p, v))
    rec.episode_run(lambda s, t: np.float32(0.5), 2, step_seed=1, injected=inj(-0.5, 0.0, 997))
    # Many goal-reaching steps with random actions: the reward's FMA shows here.
    rs = np.random.RandomState(77)
    for _ in range(150):
        p, v, a = rs.uniform(0.42, 0.449), rs.uniform(0.01, 0.07), rs.uniform(-3, 3)
        rec.episode_run(lambda s, t, a=a: np.float32(a), 1, step_seed=2, injected=inj(p, v))
    # Actions whose goal reward differs between fma(-0.1, a*a, 100) and rounding -0.1*a*a
    # first: gymnax (XLA) fuses, and these steps tell the two apart.
    rs = np.random.RandomState(78)
    found = 0
    while found < 8:
        a = np.float32(rs.uniform(-3, 3))
        aa = Fraction(float(np.float32(a * a)))
        fused = np.float32(float(Fraction(float(np.float32(-0.1))) * aa + 100))
        unfused = np.float32(np.float32(np.float32(-0.1) * np.float32(a * a)) + np.float32(100))
        if fused != unfused:
            found += 1
            rec.episode_run(lambda s, t, a=a: a, 1, step_seed=3, injected=inj(0.449, 0.05))
    rec.write(out_dir, "pump", "energy pumping: action = +-m with m cycling "
              f"{mags}, sign of the velocity (left at rest); reset_seed=e; step_seed=300000+e; "
              "then injected single steps (walls, -0.0, clipping, time limit, random actions "
              "at the goal from np.random.RandomState(77), goal rewards that show the FMA)")


# ---- Breakout ------------------------------------------------------------------------
def breakout_target(s, last_row):
    """Column of the ball when it reaches row `last_row` (8: bounce straight back up,
    9: reverse along the diagonal), or the ball's column while it rises."""
    x, y, d = int(s.ball_x), int(s.ball_y), int(s.ball_dir)
    if d in (0, 1):
        return x
    dx = 1 if d == 2 else -1
    while y < last_row:
        x += dx
        if x < 0 or x > 9:
            x = min(max(x, 0), 9)
            dx = -dx
        y += 1
    return x


def breakout(out_dir):
    from gymnax.environments.minatar.breakout import EnvState

    rec = Recorder("Breakout-MinAtar")
    respawns = 0
    for e in range(3):
        rs = np.random.RandomState(4000 + e)

        # Each descent picks at random how to return the ball, so that it does not settle
        # into a loop that never clears the wall.
        row = {"last": 8}

        def track(s, t, rs=rs, row=row):
            p = int(s.pos)
            if int(s.ball_dir) in (0, 1):
                row["last"] = 8 if rs.rand() < 0.5 else 9
                if rs.rand() < 0.05:
                    return int(rs.randint(0, 3))
            tx = breakout_target(s, row["last"])
            if abs(tx - p) > 8 - int(s.ball_y):
                # Too far for this bounce: take the other one.
                row["last"] = 17 - row["last"]
                tx = breakout_target(s, row["last"])
            return 2 if p < tx else 1 if p > tx else 0

        start = len(rec.lines)
        rec.episode_run(track, 1000, reset_seed=e, step_seed=400000 + e)
        prev = None
        for l in rec.lines[start:]:
            n = sum(l["state"]["brick_map"])
            if prev is not None and n > prev:
                respawns += 1
            prev = n
    assert respawns > 0, "no brick respawn recorded"

    def inj(y, x, d, pos, bricks, strike=False, time=0, last=None):
        bm = np.zeros((10, 10), dtype=np.float32)
        for (by, bx) in bricks:
            bm[by, bx] = 1.0
        ly, lx = last if last is not None else (y, x)
        return EnvState(
            ball_y=jnp.int32(y), ball_x=jnp.int32(x), ball_dir=jnp.int32(d), pos=jnp.int32(pos),
            brick_map=jnp.array(bm), strike=jnp.bool_(strike), last_y=jnp.int32(ly),
            last_x=jnp.int32(lx), time=jnp.int32(time), terminal=jnp.bool_(False),
        )

    full = [(y, x) for y in range(1, 4) for x in range(10)]
    one = lambda a: (lambda s, t: a)
    cases = [
        (inj(5, 9, 1, 0, []), one(0), 2),            # right wall
        (inj(5, 0, 3, 0, []), one(0), 2),            # left wall
        (inj(0, 5, 0, 0, []), one(0), 2),            # ceiling
        (inj(0, 0, 0, 0, []), one(0), 2),            # corner
        (inj(4, 5, 1, 0, full), one(0), 3),          # brick hit
        (inj(4, 5, 1, 0, full, strike=True), one(0), 3),  # already striking
        (inj(4, 9, 1, 0, full), one(0), 2),          # wall then brick
        (inj(8, 4, 2, 4, full), one(0), 2),          # paddle under the ball
        (inj(8, 4, 3, 5, full), one(1), 2),          # paddle moves under the ball
        (inj(8, 4, 2, 5, full), one(0), 2),          # paddle at the landing cell
        (inj(8, 4, 2, 0, full), one(0), 1),          # miss: terminal
        (inj(8, 4, 2, 4, []), one(0), 2),            # respawn with bounce
        (inj(8, 4, 2, 0, []), one(0), 1),            # respawn then terminal
        (inj(2, 4, 1, 8, [(1, 5)]), one(0), 9),      # last brick, respawn on return
        (inj(5, 5, 2, 0, full, time=999), one(0), 1),  # time limit
        (inj(5, 5, 2, 5, []), one(3), 1),            # out-of-range actions
        (inj(5, 5, 2, 5, []), one(-1), 1),
        (inj(5, 5, 2, 5, []), one(-2), 1),
        (inj(5, 5, 2, 0, [], last=(4, 4)), one(1), 1),  # paddle at the left edge
        (inj(5, 5, 2, 9, [], last=(4, 4)), one(2), 1),  # paddle at the right edge
    ]
    for state, pol, n in cases:
        rec.episode_run(pol, n, step_seed=5, injected=state)
    rec.write(out_dir, "tracking", "paddle follows the predicted landing column, 2% random "
              "actions (np.random.RandomState(4000+e)); reset_seed=e; step_seed=400000+e; "
              f"{respawns} brick respawns; then injected states for walls, ceiling, bricks, "
              "strike, paddle bounces, misses, respawns, time limit, invalid actions")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: rl_envs_golden.py OUT_DIR")
    out_dir = sys.argv[1]
    meta_maze(out_dir)
    mountain_car(out_dir)
    breakout(out_dir)


if __name__ == "__main__":
    main()
