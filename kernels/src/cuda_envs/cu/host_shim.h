// Host emulation of the kernels: compiled with a C++ compiler (-std=c++17 -O2
// -ffp-contract=off) ahead of common.cuh. Each kernel becomes an exported C function that
// loops over the lanes on the calling thread. The intrinsics get their IEEE meaning; on
// x86-64 without -mfma nothing is contracted, and fma/fmaf are correctly rounded.

#define MLGYM_HOST_EMULATION 1
#include <math.h>
#include <string.h>

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned char u8;

#define MLGYM_DEV static inline

struct MlgymEnvArgs;
#define MLGYM_KERNEL(name)                                                   \
    static void name##_lane(const MlgymEnvArgs& a, u32 lane);                \
    extern "C" void name(const MlgymEnvArgs* a) {                            \
        for (u32 lane = 0; lane < a->n; ++lane) name##_lane(*a, lane);       \
    }                                                                        \
    static void name##_lane(const MlgymEnvArgs& a, u32 lane)

static inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline float __double2float_rn(double x) { return (float)x; }
static inline float __int2float_rn(int x) { return (float)x; }
static inline float __ull2float_rn(u64 x) { return (float)x; }
static inline u64 __umul64hi(u64 a, u64 b) {
    return (u64)(((unsigned __int128)a * (unsigned __int128)b) >> 64);
}
static inline u32 __float_as_uint(float f) {
    u32 u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline int __ffsll(long long x) { return __builtin_ffsll(x); }
