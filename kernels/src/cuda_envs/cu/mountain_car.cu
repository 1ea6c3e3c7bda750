// MountainCarContinuous-v0; reference: mlgym_tasks::rl::env::mountain_car.
// State: sf = position, velocity; si = time. Params: pf = min_action, max_action,
// min_position, max_position, max_speed, goal_position, goal_velocity, power, gravity;
// pi[1] = max_steps_in_episode.
//
// cos: the CPU reference (and gymnax on CPU) uses glibc's cosf, which CUDA's cosf does not
// reproduce (it may differ by up to 2 ulp). mlgym_glibc_cosf evaluates glibc's algorithm
// (2.28+, from Arm's optimized-routines: one reduction by pi/2 in double precision, then a
// double polynomial, rounded once to float) with explicit IEEE double operations, so it
// returns glibc's bits; on MountainCar's whole domain (|3p| <= 3.6) this was checked
// against glibc 2.36 for every float. MLGYM_FLAG_NATIVE_COSF selects CUDA's cosf instead.

#define MC_OBS 2

// Arm/glibc sincosf constants: pi/2, 2/pi scaled by 2^24, cosine and sine polynomials.
#define MC_HPI 0x1.921FB54442D18p0
#define MC_HPI_INV 0x1.45F306DC9C883p+23
#define MC_C0 0x1p0
#define MC_C1 -0x1.ffffffd0c621cp-2
#define MC_C2 0x1.55553e1068f19p-5
#define MC_C3 -0x1.6c087e89a359dp-10
#define MC_C4 0x1.99343027bf8c3p-16
#define MC_S1 -0x1.555545995a603p-3
#define MC_S2 0x1.1107605230bc4p-7
#define MC_S3 -0x1.994eb3774cf24p-13

// The top 12 bits of |x|'s float representation (glibc's abstop12).
MLGYM_DEV u32 mlgym_abstop12(float x) { return (__float_as_uint(x) >> 20) & 0x7ffu; }

// sin (n even) or cos (n odd) polynomial at x; csign -1 negates the cosine coefficients
// (glibc's second table).
MLGYM_DEV float mlgym_sincosf_poly(double x, double x2, int n, double csign) {
    if ((n & 1) == 0) {
        double x3 = __dmul_rn(x, x2);
        double s1 = __fma_rn(x2, MC_S3, MC_S2);
        double x7 = __dmul_rn(x3, x2);
        double s = __fma_rn(x3, MC_S1, x);
        return __double2float_rn(__fma_rn(x7, s1, s));
    }
    double x4 = __dmul_rn(x2, x2);
    double c2 = __fma_rn(x2, csign * MC_C4, csign * MC_C3);
    double c1 = __fma_rn(x2, csign * MC_C1, csign * MC_C0);
    double x6 = __dmul_rn(x4, x2);
    double c = __fma_rn(x4, csign * MC_C2, c1);
    return __double2float_rn(__fma_rn(x6, c2, c));
}

MLGYM_DEV float mlgym_glibc_cosf(float y) {
    u32 top = mlgym_abstop12(y);
    if (top < 0x3f4u) {          // |y| < ~pi/4
        if (top < 0x398u) return 1.0f;  // |y| < 2^-12
        double x = (double)y;
        return mlgym_sincosf_poly(x, __dmul_rn(x, x), 1, 1.0);
    }
    if (top < 0x42fu) {          // |y| < 120
        double x = (double)y;
        double r = __dmul_rn(x, MC_HPI_INV);
        int n = ((int)r + 0x800000) >> 24;
        x = __fma_rn(-(double)n, MC_HPI, x);
        double s = ((n & 3) == 1 || (n & 3) == 2) ? -1.0 : 1.0;
        double csign = (n & 2) ? -1.0 : 1.0;
        return mlgym_sincosf_poly(__dmul_rn(x, s), __dmul_rn(x, x), n ^ 1, csign);
    }
    // Large, infinite or NaN arguments never occur in MountainCar (positions are clipped).
    return cosf(y);
}

struct McState {
    float position, velocity;
    int time;
};

MLGYM_DEV McState mc_load(const MlgymEnvArgs& a, u32 i) {
    McState s;
    s.position = a.sf[0][i];
    s.velocity = a.sf[1][i];
    s.time = a.si[0][i];
    return s;
}

MLGYM_DEV void mc_store(const MlgymEnvArgs& a, u32 i, const McState& s) {
    a.sf[0][i] = s.position;
    a.sf[1][i] = s.velocity;
    a.si[0][i] = s.time;
}

MLGYM_DEV McState mc_reset(float position) {
    McState s;
    s.position = position;
    s.velocity = 0.0f;
    s.time = 0;
    return s;
}

// The reset draw: jax.random.uniform's affine map applied to a [0, 1) float.
MLGYM_DEV float mc_reset_draw(const MlgymEnvArgs& a, u32 lane, MlgymRng* rng) {
    if (a.reset_draw_f) return a.reset_draw_f[lane];
    float u = mlgym_next_f32(rng);
    float p = __fadd_rn(__fmul_rn(u, __fsub_rn(-0.4f, -0.6f)), -0.6f);
    return p < -0.6f ? -0.6f : p;
}

MLGYM_DEV void mc_write_obs(const McState& s, float* o) {
    o[0] = s.position;
    o[1] = s.velocity;
}

MLGYM_DEV void mc_step(const MlgymEnvArgs& a, McState* s, float action, float* reward,
                       bool* term, bool* trunc) {
    float force = mlgym_clip(action, a.pf[0], a.pf[1]);
    float x3 = __fmul_rn(3.0f, s->position);
    float c = (a.flags & MLGYM_FLAG_NATIVE_COSF) ? cosf(x3) : mlgym_glibc_cosf(x3);
    // v + force*power - cos(3p)*gravity as two FMAs, as XLA:CPU contracts it.
    float v = __fmaf_rn(-c, a.pf[8], __fmaf_rn(force, a.pf[7], s->velocity));
    v = mlgym_clip(v, -a.pf[4], a.pf[4]);
    float position = mlgym_clip(__fadd_rn(s->position, v), a.pf[2], a.pf[3]);
    bool at_goal = position >= a.pf[5];
    // gymnax multiplies by (1 - 1): a negative velocity on the goal side becomes -0.0.
    float velocity = (at_goal && v < 0.0f) ? __fmul_rn(v, 0.0f) : v;
    bool goal = at_goal && velocity >= a.pf[6];
    // The penalty uses the unclipped action, fused with the bonus as XLA does.
    *reward = __fmaf_rn(-0.1f, __fmul_rn(action, action), goal ? 100.0f : 0.0f);
    s->position = position;
    s->velocity = velocity;
    s->time += 1;
    *term = goal;
    *trunc = s->time >= a.pi[1];
}

MLGYM_KERNEL(mlgym_mountain_car_reset) {
    MlgymRng rng = mlgym_reset_rng(a, lane);
    McState s = mc_reset(mc_reset_draw(a, lane, &rng));
    mc_write_obs(s, a.obs + (u64)lane * MC_OBS);
    mc_store(a, lane, s);
    mlgym_rng_store(a, lane, rng);
    mlgym_finish(a, lane, 0.0f, false, false);
}

MLGYM_KERNEL(mlgym_mountain_car_step) {
    McState s = mc_load(a, lane);
    MlgymRng rng = mlgym_rng_load(a, lane);
    float action;
    if (a.flags & MLGYM_FLAG_RANDOM_ACTIONS) {
        float u = __fmul_rn(__ull2float_rn(mlgym_action_bits(a.seed, lane, a.t) >> 40),
                            5.9604644775390625e-8f);
        action = __fadd_rn(__fmul_rn(u, 2.0f), -1.0f);
    } else {
        action = a.act_f[lane];
    }
    float r;
    bool term, trunc;
    mc_step(a, &s, action, &r, &term, &trunc);
    if ((term || trunc) && (a.flags & MLGYM_FLAG_AUTORESET)) {
        if (a.final_obs) mc_write_obs(s, a.final_obs + (u64)lane * MC_OBS);
        s = mc_reset(mc_reset_draw(a, lane, &rng));
    }
    mc_write_obs(s, a.obs + (u64)lane * MC_OBS);
    mc_store(a, lane, s);
    mlgym_rng_store(a, lane, rng);
    mlgym_finish(a, lane, r, term, trunc);
}

MLGYM_KERNEL(mlgym_mountain_car_write_obs) {
    mc_write_obs(mc_load(a, lane), a.obs + (u64)lane * MC_OBS);
}

// cos of act_f[lane] into reward[lane] (glibc's algorithm, or CUDA's with NATIVE_COSF):
// lets the host compare both with glibc.
MLGYM_KERNEL(mlgym_cosf_batch) {
    float y = a.act_f[lane];
    a.reward[lane] = (a.flags & MLGYM_FLAG_NATIVE_COSF) ? cosf(y) : mlgym_glibc_cosf(y);
}
