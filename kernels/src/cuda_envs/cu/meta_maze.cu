// MetaMaze-misc (gymnax's MetaMaze(maze_size=9, rf_size=3)); reference:
// mlgym_tasks::rl::env::meta_maze. State: si = pos_y, pos_x, goal_y, goal_x, last_action;
// sf = last_reward, time. Params: pf = reward, punishment; pi = normalize_time, max_steps.

#define MM_OBS 15
#define MM_FREE 65

struct MmState {
    int pos_y, pos_x, goal_y, goal_x, last_action;
    float last_reward, time;
};

// Cell (y, x) of the 11x11 grid is free iff inside the border and y or x is odd.
MLGYM_DEV bool mm_is_free(int y, int x) {
    return y >= 1 && y <= 9 && x >= 1 && x <= 9 && ((y & 1) == 1 || (x & 1) == 1);
}

MLGYM_DEV int mm_clamp(int v) { return v < 0 ? 0 : (v > 10 ? 10 : v); }

// JAX clamps gather indices into the grid.
MLGYM_DEV bool mm_free_at(int y, int x) { return mm_is_free(mm_clamp(y), mm_clamp(x)); }

// The k-th free cell in row-major order: odd rows hold 9 free cells, even rows 5.
MLGYM_DEV void mm_coord(int k, int* y, int* x) {
    if (k < 0) k = 0;
    if (k > MM_FREE - 1) k = MM_FREE - 1;
    int b = k / 14, r = k % 14;
    if (r < 9) {
        *y = 2 * b + 1;
        *x = r + 1;
    } else {
        *y = 2 * b + 2;
        *x = 2 * (r - 9) + 1;
    }
}

MLGYM_DEV MmState mm_load(const MlgymEnvArgs& a, u32 i) {
    MmState s;
    s.pos_y = a.si[0][i];
    s.pos_x = a.si[1][i];
    s.goal_y = a.si[2][i];
    s.goal_x = a.si[3][i];
    s.last_action = a.si[4][i];
    s.last_reward = a.sf[0][i];
    s.time = a.sf[1][i];
    return s;
}

MLGYM_DEV void mm_store(const MlgymEnvArgs& a, u32 i, const MmState& s) {
    a.si[0][i] = s.pos_y;
    a.si[1][i] = s.pos_x;
    a.si[2][i] = s.goal_y;
    a.si[3][i] = s.goal_x;
    a.si[4][i] = s.last_action;
    a.sf[0][i] = s.last_reward;
    a.sf[1][i] = s.time;
}

MLGYM_DEV MmState mm_reset(int goal_index) {
    MmState s;
    mm_coord(goal_index, &s.goal_y, &s.goal_x);
    s.pos_y = 5;
    s.pos_x = 5;
    s.last_action = 0;
    s.last_reward = 0.0f;
    s.time = 0.0f;
    return s;
}

MLGYM_DEV void mm_write_obs(const MlgymEnvArgs& a, const MmState& s, float* o) {
    int cy = mm_clamp(s.pos_y), cx = mm_clamp(s.pos_x);
    // The 3x3 window's corner, clamped into the grid as lax.dynamic_slice does.
    int y0 = cy == 0 ? 0 : (cy - 1 > 8 ? 8 : cy - 1);
    int x0 = cx == 0 ? 0 : (cx - 1 > 8 ? 8 : cx - 1);
    for (int k = 0; k < 9; ++k) o[k] = mm_is_free(y0 + k / 3, x0 + k % 3) ? 0.0f : 1.0f;
    // jax.nn.one_hot: all zeros for an action outside 0..4.
    for (int j = 0; j < 4; ++j) o[9 + j] = s.last_action == j ? 1.0f : 0.0f;
    o[13] = s.last_reward;
    o[14] = a.pi[0] ? __fadd_rn(__fdiv_rn(__fmul_rn(2.0f, s.time), 100.0f), -1.0f) : s.time;
}

// gymnax's step_env. The teleport draw is taken only when the goal is reached.
MLGYM_DEV void mm_step(const MlgymEnvArgs& a, u32 lane, MmState* s, int action,
                       MlgymRng* rng, float* reward, bool* term, bool* trunc) {
    int ai = mlgym_jax_index(action, 4);
    int dy = ai == 0 ? -1 : (ai == 2 ? 1 : 0);
    int dx = ai == 1 ? 1 : (ai == 3 ? -1 : 0);
    bool in_map = mm_free_at(s->pos_y + dy, s->pos_x + dx);
    int m = in_map ? 1 : 0;
    int y = s->pos_y + m * dy, x = s->pos_x + m * dx;
    bool goal = y == s->goal_y && x == s->goal_x;
    float r = __fadd_rn(__fmul_rn(goal ? 1.0f : 0.0f, a.pf[0]),
                        __fmul_rn(in_map ? 0.0f : 1.0f, a.pf[1]));
    if (goal) {
        int k = a.step_draw ? a.step_draw[lane] : (int)mlgym_below(rng, MM_FREE);
        mm_coord(k, &y, &x);
    }
    s->pos_y = y;
    s->pos_x = x;
    s->last_action = action;
    s->last_reward = r;
    s->time = __fadd_rn(s->time, 1.0f);
    *reward = r;
    *term = y == s->goal_y && x == s->goal_x;
    *trunc = s->time >= __int2float_rn(a.pi[1]);
}

MLGYM_KERNEL(mlgym_meta_maze_reset) {
    MlgymRng rng = mlgym_reset_rng(a, lane);
    int k = a.reset_draw_i ? a.reset_draw_i[lane] : (int)mlgym_below(&rng, MM_FREE);
    MmState s = mm_reset(k);
    mm_write_obs(a, s, a.obs + (u64)lane * MM_OBS);
    mm_store(a, lane, s);
    mlgym_rng_store(a, lane, rng);
    mlgym_finish(a, lane, 0.0f, false, false);
}

MLGYM_KERNEL(mlgym_meta_maze_step) {
    MmState s = mm_load(a, lane);
    MlgymRng rng = mlgym_rng_load(a, lane);
    int action = (a.flags & MLGYM_FLAG_RANDOM_ACTIONS)
                     ? (int)(mlgym_action_bits(a.seed, lane, a.t) % 4)
                     : a.act_i[lane];
    float r;
    bool term, trunc;
    mm_step(a, lane, &s, action, &rng, &r, &term, &trunc);
    if ((term || trunc) && (a.flags & MLGYM_FLAG_AUTORESET)) {
        if (a.final_obs) mm_write_obs(a, s, a.final_obs + (u64)lane * MM_OBS);
        int k = a.reset_draw_i ? a.reset_draw_i[lane] : (int)mlgym_below(&rng, MM_FREE);
        s = mm_reset(k);
    }
    mm_write_obs(a, s, a.obs + (u64)lane * MM_OBS);
    mm_store(a, lane, s);
    mlgym_rng_store(a, lane, rng);
    mlgym_finish(a, lane, r, term, trunc);
}

MLGYM_KERNEL(mlgym_meta_maze_write_obs) {
    mm_write_obs(a, mm_load(a, lane), a.obs + (u64)lane * MM_OBS);
}
