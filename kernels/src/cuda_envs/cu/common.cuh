// Shared part of the batched RL environment kernels (compiled at run time by NVRTC).
//
// One thread steps one environment ("lane"). Every kernel takes one MlgymEnvArgs by
// value; its layout is mirrored by `KernelArgs` in exec.rs and checked at start-up by
// mlgym_probe_layout. NVRTC has no standard headers, so nothing is included here.
//
// Exactness: the CPU environments (mlgym_tasks::rl) are the reference. Every float
// operation whose rounding matters is written with an explicit round-to-nearest intrinsic
// (__fmul_rn, __fadd_rn, __fmaf_rn, __dmul_rn, __fma_rn), which the compiler never fuses
// or reorders, and the module is compiled with --fmad=false as well. The random draws use
// the CPU's generator (xoshiro256++ seeded through SplitMix64, one stream per env), so a
// GPU batch and a CPU VecEnv with the same seed produce the same trajectories.
//
// Host emulation: the same text compiles as C++ on the CPU after a small shim that defines
// MLGYM_HOST_EMULATION, MLGYM_DEV, MLGYM_KERNEL and the intrinsics (see host_shim.h).

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned char u8;

#define MLGYM_FLAG_AUTORESET 1u
#define MLGYM_FLAG_FULL_OBS 2u
#define MLGYM_FLAG_NATIVE_COSF 4u
#define MLGYM_FLAG_RANDOM_ACTIONS 8u
#define MLGYM_FLAG_RESEED 16u

struct MlgymEnvArgs {
    int* si[10];               // integer state fields, one array of n per field
    float* sf[4];              // float state fields
    u64* su[2];                // 64-bit state fields (Breakout's brick map)
    u64* rng;                  // generator states: word k of lane i at rng[k * n + i]
    const int* act_i;          // discrete actions (null for MountainCar)
    const float* act_f;        // continuous actions (null for the others)
    const int* step_draw;      // injected step draws, or null to draw from rng
    const int* reset_draw_i;   // injected integer reset draws, or null
    const float* reset_draw_f; // injected float reset draws (MountainCar), or null
    float* obs;                // [n, obs_dim]
    float* final_obs;          // [n, obs_dim] pre-reset observation of ended envs, or null
    float* reward;             // [n]
    u8* terminated;            // [n]
    u8* truncated;             // [n]
    u64 seed;                  // reset seed (RESEED) or action seed (RANDOM_ACTIONS)
    u32 n;                     // number of environments
    u32 flags;                 // MLGYM_FLAG_*
    u32 t;                     // step counter (RANDOM_ACTIONS)
    u32 pad0;
    float pf[12];              // float parameters of the environment
    int pi[4];                 // integer parameters: pi[0] a flag, pi[1] max_steps_in_episode
};

#ifndef MLGYM_HOST_EMULATION
#define MLGYM_DEV __device__ __forceinline__
#define MLGYM_KERNEL(name)                                                   \
    MLGYM_DEV void name##_lane(const MlgymEnvArgs& a, u32 lane);             \
    extern "C" __global__ void name(const MlgymEnvArgs a) {                  \
        u32 lane = blockIdx.x * blockDim.x + threadIdx.x;                    \
        if (lane < a.n) name##_lane(a, lane);                                \
    }                                                                        \
    MLGYM_DEV void name##_lane(const MlgymEnvArgs& a, u32 lane)
#endif

// ---- the CPU's generator (mlgym_tasks::rng::Rng) ----

struct MlgymRng {
    u64 s0, s1, s2, s3;
};

MLGYM_DEV u64 mlgym_rotl(u64 x, int k) { return (x << k) | (x >> (64 - k)); }

MLGYM_DEV u64 mlgym_splitmix(u64* state) {
    *state += 0x9E3779B97F4A7C15ull;
    u64 z = *state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

MLGYM_DEV MlgymRng mlgym_rng_new(u64 seed) {
    MlgymRng r;
    u64 sm = seed;
    r.s0 = mlgym_splitmix(&sm);
    r.s1 = mlgym_splitmix(&sm);
    r.s2 = mlgym_splitmix(&sm);
    r.s3 = mlgym_splitmix(&sm);
    return r;
}

// Rng::stream(seed, index): environment `index`'s own stream.
MLGYM_DEV MlgymRng mlgym_rng_stream(u64 seed, u64 index) {
    u64 sm = seed ^ 0xD1B54A32D192ED03ull;
    u64 a = mlgym_splitmix(&sm);
    u64 sm2 = (index * 0x9E3779B97F4A7C15ull) ^ a;
    return mlgym_rng_new(mlgym_splitmix(&sm2));
}

MLGYM_DEV u64 mlgym_next(MlgymRng* r) {
    u64 result = mlgym_rotl(r->s0 + r->s3, 23) + r->s0;
    u64 t = r->s1 << 17;
    r->s2 ^= r->s0;
    r->s3 ^= r->s1;
    r->s1 ^= r->s2;
    r->s0 ^= r->s3;
    r->s2 ^= t;
    r->s3 = mlgym_rotl(r->s3, 45);
    return result;
}

// Rng::below(n): Lemire's method without modulo bias.
MLGYM_DEV u64 mlgym_below(MlgymRng* r, u64 n) {
    if (n == 0) return 0;
    for (;;) {
        u64 x = mlgym_next(r);
        u64 low = x * n;
        u64 high = __umul64hi(x, n);
        if (low < n) {
            u64 threshold = (0ull - n) % n;
            if (low < threshold) continue;
        }
        return high;
    }
}

// Rng::next_f32: 24 random bits scaled into [0, 1) (both steps exact).
MLGYM_DEV float mlgym_next_f32(MlgymRng* r) {
    return __fmul_rn(__ull2float_rn(mlgym_next(r) >> 40), 5.9604644775390625e-8f);
}

MLGYM_DEV MlgymRng mlgym_rng_load(const MlgymEnvArgs& a, u32 lane) {
    u64 n = a.n;
    MlgymRng r;
    r.s0 = a.rng[lane];
    r.s1 = a.rng[n + lane];
    r.s2 = a.rng[2 * n + lane];
    r.s3 = a.rng[3 * n + lane];
    return r;
}

// The generator a reset kernel draws from: lane `lane`'s fresh stream of `a.seed` when the
// host asked for a reseed (MLGYM_FLAG_RESEED), else the lane's stored state.
MLGYM_DEV MlgymRng mlgym_reset_rng(const MlgymEnvArgs& a, u32 lane) {
    return (a.flags & MLGYM_FLAG_RESEED) ? mlgym_rng_stream(a.seed, lane) : mlgym_rng_load(a, lane);
}

MLGYM_DEV void mlgym_rng_store(const MlgymEnvArgs& a, u32 lane, const MlgymRng& r) {
    u64 n = a.n;
    a.rng[lane] = r.s0;
    a.rng[n + lane] = r.s1;
    a.rng[2 * n + lane] = r.s2;
    a.rng[3 * n + lane] = r.s3;
}

// Benchmark actions drawn on the device (RANDOM_ACTIONS): a hash of (seed, lane, t), so
// the environments' own streams are not disturbed.
MLGYM_DEV u64 mlgym_action_bits(u64 seed, u32 lane, u32 t) {
    u64 s = seed ^ ((u64)lane * 0xA0761D6478BD642Full) ^ ((u64)t * 0xE7037ED1A0B428DBull);
    return mlgym_splitmix(&s);
}

// ---- small helpers shared by the environments ----

// jnp.clip: a NaN stays NaN.
MLGYM_DEV float mlgym_clip(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

// JAX's index rule inside jit: a negative index counts from the end once, then clamps.
MLGYM_DEV int mlgym_jax_index(int i, int len) {
    long long j = i;
    if (j < 0) j += len;
    if (j < 0) j = 0;
    if (j > len - 1) j = len - 1;
    return (int)j;
}

MLGYM_DEV void mlgym_finish(const MlgymEnvArgs& a, u32 lane, float reward, bool term,
                            bool trunc) {
    a.reward[lane] = reward;
    a.terminated[lane] = term ? 1 : 0;
    a.truncated[lane] = trunc ? 1 : 0;
}

// Writes layout facts into si[0][0..10], so the host can check that its mirror of
// MlgymEnvArgs matches this compiler's.
MLGYM_KERNEL(mlgym_probe_layout) {
    if (lane != 0) return;
    int* out = a.si[0];
    const char* base = (const char*)&a;
    out[0] = (int)sizeof(MlgymEnvArgs);
    out[1] = (int)((const char*)&a.seed - base);
    out[2] = (int)((const char*)&a.n - base);
    out[3] = (int)((const char*)&a.pf[0] - base);
    out[4] = (int)((const char*)&a.pi[0] - base);
    out[5] = (int)a.n;
    out[6] = (int)a.flags;
    out[7] = a.pi[3];
    out[8] = (int)__float_as_uint(a.pf[11]);
    out[9] = (int)(a.seed >> 32);
}
