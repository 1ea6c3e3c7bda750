//! A safe, single-threaded SGEMM on top of the `gemm` crate.
//!
//! Every caller parallelises over a *fixed* split of its rows (one that depends on the
//! shapes only, never on the number of threads) and sums partial results in a fixed
//! order, so results are identical bit for bit whatever `RAYON_NUM_THREADS` is.

use gemm::Parallelism;

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// Used as stored (row-major).
    No,
    /// The stored row-major matrix is the transpose of the operand.
    Yes,
}

/// `c (m×n) = [c +] a (m×k) · b (k×n)`, all row-major.
///
/// `a` is stored as `m×k` (or `k×m` with [`Trans::Yes`]), `b` as `k×n` (or `n×k`).
/// With `accumulate` the product is added to `c`, else `c` is overwritten.
///
/// # Panics
/// When a slice is shorter than its dimensions say (a bug in the caller).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    ta: Trans,
    b: &[f32],
    tb: Trans,
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(
        a.len() >= m * k,
        "sgemm: lhs has {} elements, needs {}",
        a.len(),
        m * k
    );
    assert!(
        b.len() >= k * n,
        "sgemm: rhs has {} elements, needs {}",
        b.len(),
        k * n
    );
    assert!(
        c.len() >= m * n,
        "sgemm: dst has {} elements, needs {}",
        c.len(),
        m * n
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    // (row stride, column stride) of each operand as the logical matrix.
    let (a_rs, a_cs) = match ta {
        Trans::No => (k as isize, 1),
        Trans::Yes => (1, m as isize),
    };
    let (b_rs, b_cs) = match tb {
        Trans::No => (n as isize, 1),
        Trans::Yes => (1, k as isize),
    };
    // SAFETY: the asserts above guarantee that every element addressed by the strides
    // (at most index m·k−1, k·n−1 and m·n−1) lies inside the slices; `c` is borrowed
    // mutably, so it does not alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f32], ta: Trans, b: &[f32], tb: Trans) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let av = if ta == Trans::No {
                        a[i * k + p]
                    } else {
                        a[p * m + i]
                    };
                    let bv = if tb == Trans::No {
                        b[p * n + j]
                    } else {
                        b[j * k + p]
                    };
                    s += av as f64 * bv as f64;
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    #[test]
    fn matches_naive_for_every_transpose_and_accumulates() {
        let (m, n, k) = (7, 5, 11);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) / 7.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 13 % 11) as f32 - 5.0) / 3.0)
            .collect();
        for ta in [Trans::No, Trans::Yes] {
            for tb in [Trans::No, Trans::Yes] {
                let want = naive(m, n, k, &a, ta, &b, tb);
                let mut c = vec![f32::NAN; m * n];
                sgemm(m, n, k, &a, ta, &b, tb, &mut c, false);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-4, "{ta:?} {tb:?}: {x} vs {y}");
                }
                let mut c2 = vec![1.0f32; m * n];
                sgemm(m, n, k, &a, ta, &b, tb, &mut c2, true);
                for (x, y) in c2.iter().zip(&want) {
                    assert!((x - (y + 1.0)).abs() < 1e-4);
                }
            }
        }
        let mut c = vec![3.0f32; 4];
        sgemm(2, 2, 0, &[], Trans::No, &[], Trans::No, &mut c, false);
        assert_eq!(c, [0.0; 4]);
    }
}
