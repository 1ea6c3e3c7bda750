// Breakout-MinAtar; reference: mlgym_tasks::rl::env::breakout.
// State: si = ball_y, ball_x, ball_dir, pos, strike, last_y, last_x, time, terminal;
// su = brick map bits 0..63 and 64..99 (bit y*10 + x). Params: pi[1] = max_steps.
// Observation: (10, 10, 4) row-major, channels paddle, ball, trail, brick; a step that
// does not end the episode edits only the cells that changed, as the CPU does.

#define BR_OBS 400
#define BR_FULL_LO 0xFFFFFFFC00ull  // bricks on rows 1-3: bits 10..39

struct BrState {
    int ball_y, ball_x, ball_dir, pos, strike, last_y, last_x, time, terminal;
    u64 lo, hi;
};

MLGYM_DEV int br_clamp(int v) { return v < 0 ? 0 : (v > 9 ? 9 : v); }

MLGYM_DEV int br_bit(int y, int x) { return br_clamp(y) * 10 + br_clamp(x); }

MLGYM_DEV bool br_has(const BrState& s, int b) {
    return b < 64 ? ((s.lo >> b) & 1ull) != 0 : ((s.hi >> (b - 64)) & 1ull) != 0;
}

MLGYM_DEV void br_clear(BrState* s, int b) {
    if (b < 64) {
        s->lo &= ~(1ull << b);
    } else {
        s->hi &= ~(1ull << (b - 64));
    }
}

// Writes v at cell (y, x) of channel c; out-of-grid writes are dropped like JAX's scatter.
MLGYM_DEV void br_put(float* o, int y, int x, int c, float v) {
    if (y >= 0 && y < 10 && x >= 0 && x < 10) o[(y * 10 + x) * 4 + c] = v;
}

MLGYM_DEV BrState br_load(const MlgymEnvArgs& a, u32 i) {
    BrState s;
    s.ball_y = a.si[0][i];
    s.ball_x = a.si[1][i];
    s.ball_dir = a.si[2][i];
    s.pos = a.si[3][i];
    s.strike = a.si[4][i];
    s.last_y = a.si[5][i];
    s.last_x = a.si[6][i];
    s.time = a.si[7][i];
    s.terminal = a.si[8][i];
    s.lo = a.su[0][i];
    s.hi = a.su[1][i];
    return s;
}

MLGYM_DEV void br_store(const MlgymEnvArgs& a, u32 i, const BrState& s) {
    a.si[0][i] = s.ball_y;
    a.si[1][i] = s.ball_x;
    a.si[2][i] = s.ball_dir;
    a.si[3][i] = s.pos;
    a.si[4][i] = s.strike;
    a.si[5][i] = s.last_y;
    a.si[6][i] = s.last_x;
    a.si[7][i] = s.time;
    a.si[8][i] = s.terminal;
    a.su[0][i] = s.lo;
    a.su[1][i] = s.hi;
}

// ball_start 0: left edge moving down-right; otherwise right edge moving down-left.
MLGYM_DEV BrState br_reset(int ball_start) {
    BrState s;
    s.ball_y = 3;
    s.ball_x = ball_start == 0 ? 0 : 9;
    s.ball_dir = ball_start == 0 ? 2 : 3;
    s.pos = 4;
    s.strike = 0;
    s.last_y = 3;
    s.last_x = s.ball_x;
    s.time = 0;
    s.terminal = 0;
    s.lo = BR_FULL_LO;
    s.hi = 0;
    return s;
}

MLGYM_DEV void br_write_obs(const BrState& s, float* o) {
    for (int i = 0; i < BR_OBS; ++i) o[i] = 0.0f;
    for (int b = 0; b < 100; ++b) {
        if (br_has(s, b)) o[b * 4 + 3] = 1.0f;
    }
    br_put(o, 9, s.pos, 0, 1.0f);
    br_put(o, s.ball_y, s.ball_x, 1, 1.0f);
    br_put(o, s.last_y, s.last_x, 2, 1.0f);
}

MLGYM_DEV void br_update_obs(const BrState& old, const BrState& s, float* o) {
    if (old.pos != s.pos) {
        br_put(o, 9, old.pos, 0, 0.0f);
        br_put(o, 9, s.pos, 0, 1.0f);
    }
    if (old.ball_y != s.ball_y || old.ball_x != s.ball_x) {
        br_put(o, old.ball_y, old.ball_x, 1, 0.0f);
        br_put(o, s.ball_y, s.ball_x, 1, 1.0f);
    }
    if (old.last_y != s.last_y || old.last_x != s.last_x) {
        br_put(o, old.last_y, old.last_x, 2, 0.0f);
        br_put(o, s.last_y, s.last_x, 2, 1.0f);
    }
    u64 changed = old.lo ^ s.lo;
    while (changed) {
        int b = __ffsll((long long)changed) - 1;
        o[b * 4 + 3] = ((s.lo >> b) & 1ull) ? 1.0f : 0.0f;
        changed &= changed - 1;
    }
    changed = old.hi ^ s.hi;
    while (changed) {
        int b = __ffsll((long long)changed) - 1;
        if (b + 64 < 100) o[(b + 64) * 4 + 3] = ((s.hi >> b) & 1ull) ? 1.0f : 0.0f;
        changed &= changed - 1;
    }
}

MLGYM_DEV void br_step(const MlgymEnvArgs& a, BrState* s, int action, float* reward,
                       bool* term, bool* trunc) {
    // Ball directions (dx, dy): 0 up-left, 1 up-right, 2 down-right, 3 down-left.
    const int DX[4] = {-1, 1, 1, -1};
    const int DY[4] = {-1, -1, 1, 1};
    const int FLIP_X[4] = {1, 0, 3, 2};
    const int FLIP_Y[4] = {3, 2, 1, 0};
    const int REVERSE[4] = {2, 3, 0, 1};
    // 1. Paddle: no-op, left, right.
    int ai = mlgym_jax_index(action, 3);
    int step = ai == 1 ? -1 : (ai == 2 ? 1 : 0);
    if (step != 0) s->pos = br_clamp(s->pos + step);
    // 2. Ball candidate; the trail remembers where the ball was.
    int old_x = s->ball_x, old_y = s->ball_y;
    int dir = s->ball_dir & 3;
    int nx = old_x + DX[dir], ny = old_y + DY[dir];
    // 3. Side walls.
    if (nx < 0 || nx > 9) {
        nx = br_clamp(nx);
        dir = FLIP_X[dir];
    }
    // 4. Ceiling, brick, or paddle row; the first that applies.
    float r = 0.0f;
    bool ceiling = ny < 0;
    if (ceiling) {
        ny = 0;
        dir = FLIP_Y[dir];
    }
    bool strike_toggle = !ceiling && br_has(*s, br_bit(ny, nx));
    if (strike_toggle && !s->strike) {
        r = 1.0f;
        br_clear(s, br_bit(ny, nx));
        ny = old_y;
        dir = FLIP_Y[dir];
    }
    bool terminal = false;
    if (!strike_toggle && ny == 9) {
        if (s->lo == 0 && s->hi == 0) {
            s->lo = BR_FULL_LO;
            s->hi = 0;
        }
        if (old_x == s->pos) {
            dir = FLIP_Y[dir];
            ny = old_y;
        } else if (nx == s->pos) {
            dir = REVERSE[dir];
            ny = old_y;
        } else {
            terminal = true;
        }
    }
    s->strike = strike_toggle ? 1 : 0;
    s->last_x = old_x;
    s->last_y = old_y;
    s->ball_x = nx;
    s->ball_y = ny;
    s->ball_dir = dir;
    s->time += 1;
    s->terminal = terminal ? 1 : 0;
    *reward = r;
    *term = terminal;
    *trunc = s->time >= a.pi[1];
}

MLGYM_DEV int br_reset_draw(const MlgymEnvArgs& a, u32 lane, MlgymRng* rng) {
    return a.reset_draw_i ? a.reset_draw_i[lane] : (int)mlgym_below(rng, 2);
}

MLGYM_KERNEL(mlgym_breakout_reset) {
    MlgymRng rng = mlgym_reset_rng(a, lane);
    BrState s = br_reset(br_reset_draw(a, lane, &rng));
    br_write_obs(s, a.obs + (u64)lane * BR_OBS);
    br_store(a, lane, s);
    mlgym_rng_store(a, lane, rng);
    mlgym_finish(a, lane, 0.0f, false, false);
}

MLGYM_KERNEL(mlgym_breakout_step) {
    BrState s = br_load(a, lane);
    BrState old = s;
    MlgymRng rng = mlgym_rng_load(a, lane);
    int action = (a.flags & MLGYM_FLAG_RANDOM_ACTIONS)
                     ? (int)(mlgym_action_bits(a.seed, lane, a.t) % 3)
                     : a.act_i[lane];
    float r;
    bool term, trunc;
    br_step(a, &s, action, &r, &term, &trunc);
    float* row = a.obs + (u64)lane * BR_OBS;
    if ((term || trunc) && (a.flags & MLGYM_FLAG_AUTORESET)) {
        if (a.final_obs) br_write_obs(s, a.final_obs + (u64)lane * BR_OBS);
        s = br_reset(br_reset_draw(a, lane, &rng));
        br_write_obs(s, row);
    } else if (a.flags & MLGYM_FLAG_FULL_OBS) {
        br_write_obs(s, row);
    } else {
        br_update_obs(old, s, row);
    }
    br_store(a, lane, s);
    mlgym_rng_store(a, lane, rng);
    mlgym_finish(a, lane, r, term, trunc);
}

MLGYM_KERNEL(mlgym_breakout_write_obs) {
    br_write_obs(br_load(a, lane), a.obs + (u64)lane * BR_OBS);
}
