//! Products that skip the exact zeros of an operand: the first layer of the MetaMaze and
//! Breakout networks, whose observations are mostly zeros (Breakout: about 35 ones among
//! 400 values). Each output element still receives its nonzero products in increasing
//! order, one fused multiply-add each, so the AVX2 and portable paths give the same bits;
//! dropping a zero term changes at most the sign of a zero sum.

use super::kernels::{axpy, use_avx2};

/// Nonzeros gathered at a time by [`sparse_rows_acc`] (a stack buffer).
const NZ_BLOCK: usize = 256;

/// `C[kc×n] += (A[:, p0..p0+kc])ᵀ · B` for a mostly-zero row-major `A` (`m` rows, stride
/// `lda`) and row-major `B` (`m × n`, stride `ldb`): for each row `i` in order and each
/// nonzero `a[i,p]`, row `p − p0` of `C` receives `a[i,p] · b[i,:]`. Each `C[q,j]` therefore
/// gets its nonzero products in increasing `i`, one fused multiply-add each.
///
/// Panics if a slice is too short for the shapes.
#[allow(clippy::too_many_arguments)]
pub fn sparse_at_b_acc(
    m: usize,
    kc: usize,
    p0: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
) {
    if m == 0 || n == 0 || kc == 0 {
        return;
    }
    assert!(
        a.len() >= (m - 1) * lda + p0 + kc && lda >= p0 + kc,
        "sparse_at_b_acc: A is too short"
    );
    assert!(
        b.len() >= (m - 1) * ldb + n && ldb >= n,
        "sparse_at_b_acc: B is too short"
    );
    assert!(c.len() >= kc * n, "sparse_at_b_acc: C is too short");
    for i in 0..m {
        let b_row = &b[i * ldb..i * ldb + n];
        for (q, &x) in a[i * lda + p0..i * lda + p0 + kc].iter().enumerate() {
            if x != 0.0 {
                axpy(x, b_row, &mut c[q * n..(q + 1) * n]);
            }
        }
    }
}

/// `C[m×n] += A[m×k] · B[k×n]` skipping, row by row, the exact zeros of `A` (row-major,
/// row stride `lda`). `B` and `C` are row-major with strides `ldb` and `ldc`. The
/// remaining products of each `C[i,j]` are added in increasing `p`, one fused
/// multiply-add each.
///
/// Panics if a slice is too short for the shapes.
#[allow(clippy::too_many_arguments)]
pub fn sparse_rows_acc(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(
        a.len() >= (m - 1) * lda + k && lda >= k,
        "sparse_rows_acc: A is too short"
    );
    assert!(
        b.len() >= (k - 1) * ldb + n && ldb >= n,
        "sparse_rows_acc: B is too short"
    );
    assert!(
        c.len() >= (m - 1) * ldc + n && ldc >= n,
        "sparse_rows_acc: C is too short"
    );
    let mut idx = [0u32; NZ_BLOCK];
    let mut val = [0f32; NZ_BLOCK];
    for i in 0..m {
        let row = &a[i * lda..i * lda + k];
        let c_row = &mut c[i * ldc..i * ldc + n];
        let mut p0 = 0;
        while p0 < k {
            let end = (p0 + NZ_BLOCK).min(k);
            let mut nz = 0;
            for (p, &x) in row[p0..end].iter().enumerate() {
                if x != 0.0 {
                    idx[nz] = (p0 + p) as u32;
                    val[nz] = x;
                    nz += 1;
                }
            }
            if nz > 0 {
                axpy_rows(&idx[..nz], &val[..nz], b, ldb, c_row);
            }
            p0 = end;
        }
    }
}

/// `c[j] += Σ_q val[q] · b[idx[q] * ldb + j]` for every `j < c.len()`, in order of `q`.
pub(super) fn axpy_rows(idx: &[u32], val: &[f32], b: &[f32], ldb: usize, c: &mut [f32]) {
    let n = c.len();
    let mut j = 0;
    if use_avx2() {
        // SAFETY: every idx < k and the caller checked that B holds k rows of ldb >= n.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            j = super::avx2::axpy_rows(idx, val, b, ldb, c);
        }
    }
    if j < n {
        for (&p, &x) in idx.iter().zip(val) {
            axpy(
                x,
                &b[p as usize * ldb + j..p as usize * ldb + n],
                &mut c[j..n],
            );
        }
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

    /// `C += A·B` with each element's nonzero products in increasing `p`.
    fn reference(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        for i in 0..m {
            for j in 0..n {
                let mut acc = c[i * n + j];
                for p in 0..k {
                    if a[i * k + p] != 0.0 {
                        acc = a[i * k + p].mul_add(b[p * n + j], acc);
                    }
                }
                c[i * n + j] = acc;
            }
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn sparse_matches_the_zero_skipping_chain_bit_for_bit() {
        let mut rng = Rng::new(2);
        for &(m, n, k) in &[(1, 1, 1), (5, 100, 300), (3, 256, 15), (9, 7, 600)] {
            let a = random(m * k, 0.6, &mut rng);
            let b = random(k * n, 0.0, &mut rng);
            let c0 = random(m * n, 0.0, &mut rng);
            let mut want = c0.clone();
            reference(m, n, k, &a, &b, &mut want);
            let mut got = c0.clone();
            sparse_rows_acc(m, n, k, &a, k, &b, n, &mut got, n);
            assert_eq!(bits(&got), bits(&want), "{m}x{n}x{k}");
        }
    }

    #[test]
    fn transposed_sparse_product_matches_the_chain_over_rows() {
        let mut rng = Rng::new(8);
        let (m, k, n) = (37, 50, 70);
        let a = random(m * k, 0.8, &mut rng);
        let b = random(m * n, 0.0, &mut rng);
        let mut want = random(k * n, 0.0, &mut rng);
        let mut got = want.clone();
        for q in 0..k {
            for j in 0..n {
                for i in 0..m {
                    if a[i * k + q] != 0.0 {
                        want[q * n + j] = a[i * k + q].mul_add(b[i * n + j], want[q * n + j]);
                    }
                }
            }
        }
        sparse_at_b_acc(m, 30, 0, n, &a, k, &b, n, &mut got[..30 * n]);
        sparse_at_b_acc(m, 20, 30, n, &a, k, &b, n, &mut got[30 * n..]);
        assert_eq!(bits(&got), bits(&want));
    }
}
