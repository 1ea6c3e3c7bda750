//! Dense matrix products for the policy networks, in `f32`, row-major.
//!
//! * [`gemm_acc`]: `C += A·B` (training: forward of a minibatch, the weight gradient
//!   `Xᵀ·dZ`, the input gradient `dZ·Wᵀ`). `A` is read through strides, so `Xᵀ` needs no
//!   copy. [`gemm_bias_act`] is the forward layer `act(bias + A·B)` with the bias and the
//!   ReLU applied inside the tiles.
//! * [`gemm_narrow_acc`]: `C += A·B` for outputs only a few columns wide (the policy and
//!   value heads), as 8-lane dot products.
//! * [`super::sparse`] has the same products skipping the exact zeros of an operand.
//!
//! Determinism: in [`gemm_acc`] every output element is computed as one chain of fused
//! multiply-adds in increasing `p` (`c = fma(a[i,p], b[p,j], c)`), whatever the
//! instruction set, blocking or number of threads; [`gemm_narrow_acc`] uses a fixed 8-lane
//! order instead (documented there). The AVX2 path (`super::avx2`) and the portable path
//! therefore give the same bits, and results never depend on how rows are split between
//! threads.

/// Rows of `C` per dense micro-tile.
const MR: usize = 6;
/// Columns of `C` per dense micro-tile (two 8-float vectors).
const NR: usize = 16;
/// Depth of one cache block of the dense product: a `KC × n` panel of `B` stays in L2.
const KC: usize = 256;

/// Whether the CPU has AVX2 and FMA (checked once).
#[inline]
pub(super) fn use_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A strided view of a matrix `A`: element `(i, p)` is `data[i * rs + p * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct Strided<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Distance between rows.
    pub rs: usize,
    /// Distance between columns.
    pub cs: usize,
}

impl<'a> Strided<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Strided {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns (element `(i, p)` is
    /// `data[p * cols + i]`).
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        Strided {
            data,
            rs: 1,
            cs: cols,
        }
    }

    /// The view starting at row `i`.
    pub(super) fn starting_at_row(self, i: usize) -> Self {
        Strided {
            data: &self.data[i * self.rs..],
            ..self
        }
    }

    /// Index one past the last element of an `m × k` view (0 when empty).
    pub(super) fn extent(&self, m: usize, k: usize) -> usize {
        if m == 0 || k == 0 {
            0
        } else {
            (m - 1) * self.rs + (k - 1) * self.cs + 1
        }
    }
}

/// `C[m×n] += A[m×k] · B[k×n]`, with `B` row-major (row stride `ldb`) and `C` row-major
/// (row stride `ldc`). Each `C[i,j]` receives its `k` products in increasing `p`, one
/// fused multiply-add each (see the module docs).
///
/// Panics if a slice is too short for the shapes.
#[allow(clippy::too_many_arguments)]
pub fn gemm_acc(
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(a.data.len() >= a.extent(m, k), "gemm_acc: A is too short");
    assert!(
        b.len() >= (k - 1) * ldb + n && ldb >= n,
        "gemm_acc: B is too short"
    );
    assert!(
        c.len() >= (m - 1) * ldc + n && ldc >= n,
        "gemm_acc: C is too short"
    );
    let mut p0 = 0;
    while p0 < k {
        let kc = KC.min(k - p0);
        let a_blk = Strided {
            data: &a.data[p0 * a.cs..],
            ..a
        };
        let b_blk = &b[p0 * ldb..];
        let mut i = 0;
        while i < m {
            let mr = MR.min(m - i);
            let a_rows = a_blk.starting_at_row(i);
            let c_rows = &mut c[i * ldc..];
            let mut j = 0;
            if use_avx2() {
                while j + NR <= n {
                    // SAFETY: the asserts above bound every index the tile reads or writes:
                    // rows i..i+mr < m, columns j..j+16 <= n, depths p0..p0+kc <= k.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        super::avx2::tile(mr, kc, a_rows, &b_blk[j..], ldb, &mut c_rows[j..], ldc);
                    }
                    j += NR;
                }
            }
            if j < n {
                portable_tile(
                    mr,
                    n - j,
                    kc,
                    a_rows,
                    &b_blk[j..],
                    ldb,
                    &mut c_rows[j..],
                    ldc,
                );
            }
            i += mr;
        }
        p0 += kc;
    }
}

/// `C[m×n] = act(bias + A[m×k] · B[k×n])`: each `C[i,j]` starts at `bias[j]` and receives
/// its products as in [`gemm_acc`]; `relu` then replaces values `<= 0` by `+0.0` (NaN
/// stays NaN). The bias and the activation are applied inside the tiles when `k` fits one
/// cache block, saving two passes over `C`.
///
/// Panics if a slice is too short for the shapes.
#[allow(clippy::too_many_arguments)]
pub fn gemm_bias_act(
    m: usize,
    n: usize,
    k: usize,
    a: Strided<'_>,
    b: &[f32],
    ldb: usize,
    bias: &[f32],
    relu: bool,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let bias = &bias[..n];
    assert!(
        c.len() >= (m - 1) * ldc + n && ldc >= n,
        "gemm_bias_act: C is too short"
    );
    if k == 0 || k > KC || !use_avx2() {
        for i in 0..m {
            c[i * ldc..i * ldc + n].copy_from_slice(bias);
        }
        gemm_acc(m, n, k, a, b, ldb, c, ldc);
        if relu {
            for i in 0..m {
                relu_in_place(&mut c[i * ldc..i * ldc + n]);
            }
        }
        return;
    }
    assert!(
        a.data.len() >= a.extent(m, k),
        "gemm_bias_act: A is too short"
    );
    assert!(
        b.len() >= (k - 1) * ldb + n && ldb >= n,
        "gemm_bias_act: B is too short"
    );
    let mut i = 0;
    while i < m {
        let mr = MR.min(m - i);
        let a_rows = a.starting_at_row(i);
        let c_rows = &mut c[i * ldc..];
        let mut j = 0;
        while j + NR <= n {
            // SAFETY: AVX2 and FMA are present (checked above); the asserts bound every
            // index: rows i..i+mr < m, columns j..j+16 <= n, depths < k.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                super::avx2::tile_bias(
                    mr,
                    k,
                    a_rows,
                    &b[j..],
                    ldb,
                    &bias[j..j + NR],
                    relu,
                    &mut c_rows[j..],
                    ldc,
                );
            }
            j += NR;
        }
        if j < n {
            for r in 0..mr {
                c_rows[r * ldc + j..r * ldc + n].copy_from_slice(&bias[j..]);
            }
            portable_tile(mr, n - j, k, a_rows, &b[j..], ldb, &mut c_rows[j..], ldc);
            if relu {
                for r in 0..mr {
                    relu_in_place(&mut c_rows[r * ldc + j..r * ldc + n]);
                }
            }
        }
        i += mr;
    }
}

/// ReLU in place: values `<= 0` become `+0.0`; NaN stays NaN (as `jax.nn.relu`).
#[inline]
pub fn relu_in_place(v: &mut [f32]) {
    for x in v {
        if *x <= 0.0 {
            *x = 0.0;
        }
    }
}

/// The reference tile: `C[0..mr][0..nc] += A[0..mr][0..kc] · B[0..kc][0..nc]`, `mr <= 6`.
/// Compiled with FMA where the CPU has it, so `mul_add` is one instruction, not a call.
#[allow(clippy::too_many_arguments)]
pub(super) fn portable_tile(
    mr: usize,
    nc: usize,
    kc: usize,
    a: Strided<'_>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if use_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { super::avx2::portable_tile(mr, nc, kc, a, b, ldb, c, ldc) };
            return;
        }
    }
    portable_tile_body(mr, nc, kc, a, b, ldb, c, ldc);
}

/// The body of [`portable_tile`]: columns in groups of 8, with the `mr × 8` accumulators
/// updated together so that the FMA chains are independent.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn portable_tile_body(
    mr: usize,
    nc: usize,
    kc: usize,
    a: Strided<'_>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    let mut j0 = 0;
    while j0 < nc {
        let w = 8.min(nc - j0);
        let mut acc = [[0f32; 8]; MR];
        for (r, row) in acc.iter_mut().enumerate().take(mr) {
            row[..w].copy_from_slice(&c[r * ldc + j0..r * ldc + j0 + w]);
        }
        for p in 0..kc {
            let b_row = &b[p * ldb + j0..p * ldb + j0 + w];
            for (r, row) in acc.iter_mut().enumerate().take(mr) {
                let x = a.data[r * a.rs + p * a.cs];
                for (v, &bv) in row.iter_mut().zip(b_row) {
                    *v = x.mul_add(bv, *v);
                }
            }
        }
        for (r, row) in acc.iter().enumerate().take(mr) {
            c[r * ldc + j0..r * ldc + j0 + w].copy_from_slice(&row[..w]);
        }
        j0 += w;
    }
}

/// `C[m×n] += A[m×k] · B[k×n]` for a narrow `B`, given as its transpose `bt` (`n × k`,
/// row-major): `C[i,j] += dot(A[i,:], bt[j,:])`, where the dot product keeps 8 partial sums
/// (lane `l` takes the terms `p ≡ l (mod 8)` in increasing `p`, one fused multiply-add
/// each) and adds them as `((s0+s4)+(s2+s6)) + ((s1+s5)+(s3+s7))`. `A` is row-major with
/// stride `lda`, `C` with stride `ldc`.
///
/// Panics if a slice is too short for the shapes.
#[allow(clippy::too_many_arguments)]
pub fn gemm_narrow_acc(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    bt: &[f32],
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(
        a.len() >= (m - 1) * lda + k && lda >= k,
        "gemm_narrow_acc: A is too short"
    );
    assert!(bt.len() >= n * k, "gemm_narrow_acc: B is too short");
    assert!(
        c.len() >= (m - 1) * ldc + n && ldc >= n,
        "gemm_narrow_acc: C is too short"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if use_avx2() {
            // SAFETY: the CPU has AVX2 and FMA; the asserts above bound every access.
            unsafe { super::avx2::narrow(m, n, k, a, lda, bt, c, ldc) };
            return;
        }
    }
    for i in 0..m {
        for j in 0..n {
            let d = dot8_portable(&a[i * lda..i * lda + k], &bt[j * k..(j + 1) * k]);
            c[i * ldc + j] += d;
        }
    }
}

/// The 8-lane dot product of [`gemm_narrow_acc`], portably.
fn dot8_portable(x: &[f32], y: &[f32]) -> f32 {
    let mut s = [0f32; 8];
    for (p, (&a, &b)) in x.iter().zip(y).enumerate() {
        s[p % 8] = a.mul_add(b, s[p % 8]);
    }
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

/// `y[j] = fma(alpha, x[j], y[j])` for every `j < y.len()` (`x` at least as long).
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    let x = &x[..y.len()];
    #[cfg(target_arch = "x86_64")]
    {
        if use_avx2() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { super::avx2::axpy(alpha, x, y) };
            return;
        }
    }
    axpy_body(alpha, x, y);
}

#[inline(always)]
pub(super) fn axpy_body(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (v, &xv) in y.iter_mut().zip(x) {
        *v = alpha.mul_add(xv, *v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn random(n: usize, zeros: f64, rng: &mut Rng) -> Vec<f32> {
        (0..n)
            .map(|_| {
                if rng.bernoulli(zeros) {
                    0.0
                } else {
                    rng.normal() as f32
                }
            })
            .collect()
    }

    fn reference(
        m: usize,
        n: usize,
        k: usize,
        a: Strided<'_>,
        b: &[f32],
        c: &mut [f32],
        skip_zeros: bool,
    ) {
        for i in 0..m {
            for j in 0..n {
                let mut acc = c[i * n + j];
                for p in 0..k {
                    let x = a.data[i * a.rs + p * a.cs];
                    if skip_zeros && x == 0.0 {
                        continue;
                    }
                    acc = x.mul_add(b[p * n + j], acc);
                }
                c[i * n + j] = acc;
            }
        }
    }

    #[test]
    fn dense_matches_the_sequential_fma_chain_bit_for_bit() {
        let mut rng = Rng::new(1);
        for &(m, n, k) in &[
            (1, 1, 1),
            (7, 19, 5),
            (13, 33, 300),
            (6, 16, 256),
            (20, 4, 517),
        ] {
            let a = random(m * k, 0.3, &mut rng);
            let b = random(k * n, 0.0, &mut rng);
            let c0 = random(m * n, 0.0, &mut rng);
            let mut want = c0.clone();
            reference(m, n, k, Strided::rows(&a, k), &b, &mut want, false);
            let mut got = c0.clone();
            gemm_acc(m, n, k, Strided::rows(&a, k), &b, n, &mut got, n);
            assert_eq!(bits(&got), bits(&want), "{m}x{n}x{k}");
            // The transposed view of a k × m matrix.
            let at: Vec<f32> = (0..k * m).map(|q| a[(q % m) * k + q / m]).collect();
            let mut got_t = c0.clone();
            gemm_acc(m, n, k, Strided::transposed(&at, m), &b, n, &mut got_t, n);
            assert_eq!(bits(&got_t), bits(&want), "transposed {m}x{n}x{k}");
        }
    }

    #[test]
    fn bias_and_relu_epilogue_matches_the_unfused_passes() {
        let mut rng = Rng::new(6);
        for &(m, n, k) in &[(13, 37, 40), (6, 16, 256), (8, 32, 300), (1, 5, 3)] {
            let a = random(m * k, 0.2, &mut rng);
            let b = random(k * n, 0.0, &mut rng);
            let mut bias = random(n, 0.0, &mut rng);
            bias[0] = f32::NAN;
            for relu in [false, true] {
                let mut want = vec![0.0f32; m * n];
                for i in 0..m {
                    want[i * n..(i + 1) * n].copy_from_slice(&bias);
                }
                reference(m, n, k, Strided::rows(&a, k), &b, &mut want, false);
                if relu {
                    relu_in_place(&mut want);
                }
                let mut got = vec![7.0f32; m * n];
                gemm_bias_act(
                    m,
                    n,
                    k,
                    Strided::rows(&a, k),
                    &b,
                    n,
                    &bias,
                    relu,
                    &mut got,
                    n,
                );
                assert_eq!(bits(&got), bits(&want), "{m}x{n}x{k} relu={relu}");
            }
        }
    }

    #[test]
    fn narrow_matches_the_eight_lane_order_bit_for_bit() {
        let mut rng = Rng::new(3);
        for &(m, n, k) in &[(1, 1, 1), (7, 3, 21), (5, 6, 256), (4, 2, 15), (3, 4, 7)] {
            let a = random(m * k, 0.3, &mut rng);
            let bt = random(n * k, 0.0, &mut rng);
            let c0 = random(m * n, 0.0, &mut rng);
            let mut want = c0.clone();
            for i in 0..m {
                for j in 0..n {
                    want[i * n + j] +=
                        dot8_portable(&a[i * k..(i + 1) * k], &bt[j * k..(j + 1) * k]);
                }
            }
            let mut got = c0.clone();
            gemm_narrow_acc(m, n, k, &a, k, &bt, &mut got, n);
            assert_eq!(bits(&got), bits(&want), "{m}x{n}x{k}");
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }
}
