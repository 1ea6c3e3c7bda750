//! The AVX2+FMA versions of the kernels of [`super::kernels`] and [`super::sparse`], with
//! the same arithmetic as their portable versions (so the same bits).

use super::kernels::Strided;
use std::arch::x86_64::*;

/// Dispatches a `mr × 16` tile (`mr <= 6`) to the kernel with that many rows.
///
/// # Safety
/// The CPU has AVX2 and FMA; `a` holds `mr × kc` elements, `b` holds `kc` rows of
/// stride `ldb` with at least 16 columns, and `c` holds `mr` rows of stride `ldc`
/// with at least 16 columns.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile(
    mr: usize,
    kc: usize,
    a: Strided<'_>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    let (ap, bp, cp) = (a.data.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    // SAFETY: forwarded from the caller.
    unsafe {
        match mr {
            6 => micro::<6>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc),
            5 => micro::<5>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc),
            4 => micro::<4>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc),
            3 => micro::<3>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc),
            2 => micro::<2>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc),
            _ => micro::<1>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc),
        }
    }
}

/// Like [`tile`], but the accumulators start at `bias` (16 values) instead of `C`, and
/// `relu` is applied before storing.
///
/// # Safety
/// As [`tile`].
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn tile_bias(
    mr: usize,
    kc: usize,
    a: Strided<'_>,
    b: &[f32],
    ldb: usize,
    bias: &[f32],
    relu: bool,
    c: &mut [f32],
    ldc: usize,
) {
    let (ap, bp, cp) = (a.data.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    let e = Epilogue {
        bias: bias.as_ptr(),
        relu,
    };
    // SAFETY: forwarded from the caller; bias holds 16 values.
    unsafe {
        match mr {
            6 => micro_e::<6>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc, e),
            5 => micro_e::<5>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc, e),
            4 => micro_e::<4>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc, e),
            3 => micro_e::<3>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc, e),
            2 => micro_e::<2>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc, e),
            _ => micro_e::<1>(kc, ap, a.rs, a.cs, bp, ldb, cp, ldc, e),
        }
    }
}

/// Where a tile's accumulators start and what is applied before storing them.
#[derive(Clone, Copy)]
struct Epilogue {
    /// 16 bias values to start from, or null to start from `C`.
    bias: *const f32,
    /// Apply ReLU before storing.
    relu: bool,
}

/// `C[0..R][0..16] += A[0..R][0..kc] · B[0..kc][0..16]`, accumulators in registers.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn micro<const R: usize>(
    kc: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    let e = Epilogue {
        bias: std::ptr::null(),
        relu: false,
    };
    // SAFETY: forwarded from the caller.
    unsafe { micro_e::<R>(kc, a, rsa, csa, b, ldb, c, ldc, e) }
}

/// [`micro`] with an [`Epilogue`].
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn micro_e<const R: usize>(
    kc: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    e: Epilogue,
) {
    // SAFETY: the caller guarantees every pointer offset below is in bounds.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for (r, row) in acc.iter_mut().enumerate() {
            if e.bias.is_null() {
                row[0] = _mm256_loadu_ps(c.add(r * ldc));
                row[1] = _mm256_loadu_ps(c.add(r * ldc + 8));
            } else {
                row[0] = _mm256_loadu_ps(e.bias);
                row[1] = _mm256_loadu_ps(e.bias.add(8));
            }
        }
        let mut ap = a;
        let mut bp = b;
        for _ in 0..kc {
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*ap.add(r * rsa));
                row[0] = _mm256_fmadd_ps(x, b0, row[0]);
                row[1] = _mm256_fmadd_ps(x, b1, row[1]);
            }
            ap = ap.add(csa);
            bp = bp.add(ldb);
        }
        if e.relu {
            // x <= 0 → +0.0; NaN compares false and is kept.
            let zero = _mm256_setzero_ps();
            for row in acc.iter_mut() {
                for v in row.iter_mut() {
                    let keep = _mm256_cmp_ps::<_CMP_GT_OQ>(*v, zero);
                    let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(*v, *v);
                    *v = _mm256_and_ps(*v, _mm256_or_ps(keep, nan));
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            _mm256_storeu_ps(c.add(r * ldc), row[0]);
            _mm256_storeu_ps(c.add(r * ldc + 8), row[1]);
        }
    }
}

/// [`super::kernels::portable_tile_body`] compiled with FMA.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn portable_tile(
    mr: usize,
    nc: usize,
    kc: usize,
    a: Strided<'_>,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
) {
    super::kernels::portable_tile_body(mr, nc, kc, a, b, ldb, c, ldc);
}

/// [`super::kernels::axpy_body`] compiled with AVX2 and FMA.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    super::kernels::axpy_body(alpha, x, y);
}

/// [`super::kernels::gemm_narrow_acc`] with 8-float vectors (same lane order as the portable
/// version; the last partial chunk is loaded zero-padded, adding exact zeros).
///
/// # Safety
/// The CPU has AVX2 and FMA; the slices hold the shapes (checked by the caller).
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn narrow(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    bt: &[f32],
    c: &mut [f32],
    ldc: usize,
) {
    let full = k / 8 * 8;
    let mut a_tail = [0f32; 8];
    let mut b_tail = [0f32; 8];
    // SAFETY: rows i < m of a hold k values from i*lda; rows j < n of bt hold k values.
    unsafe {
        for i in 0..m {
            let ar = a.as_ptr().add(i * lda);
            a_tail[..k - full].copy_from_slice(&a[i * lda + full..i * lda + k]);
            let mut j = 0;
            while j < n {
                // Up to four columns at once share the loads of A.
                let w = (n - j).min(4);
                let mut acc = [_mm256_setzero_ps(); 4];
                let mut p = 0;
                while p < full {
                    let av = _mm256_loadu_ps(ar.add(p));
                    for (q, s) in acc.iter_mut().enumerate().take(w) {
                        let bv = _mm256_loadu_ps(bt.as_ptr().add((j + q) * k + p));
                        *s = _mm256_fmadd_ps(av, bv, *s);
                    }
                    p += 8;
                }
                if full < k {
                    let av = _mm256_loadu_ps(a_tail.as_ptr());
                    for (q, s) in acc.iter_mut().enumerate().take(w) {
                        b_tail[..k - full]
                            .copy_from_slice(&bt[(j + q) * k + full..(j + q + 1) * k]);
                        *s = _mm256_fmadd_ps(av, _mm256_loadu_ps(b_tail.as_ptr()), *s);
                    }
                }
                for (q, s) in acc.iter().enumerate().take(w) {
                    // [s0+s4, s1+s5, s2+s6, s3+s7] → [t0+t2, t1+t3] → (t0+t2)+(t1+t3).
                    let t = _mm_add_ps(_mm256_castps256_ps128(*s), _mm256_extractf128_ps::<1>(*s));
                    let u = _mm_add_ps(t, _mm_movehl_ps(t, t));
                    let v = _mm_add_ss(u, _mm_shuffle_ps::<0b01>(u, u));
                    c[i * ldc + j + q] += _mm_cvtss_f32(v);
                }
                j += w;
            }
        }
    }
}

/// The vector part of [`super::sparse::axpy_rows`]: columns in blocks of 64, 32, 16 and 8;
/// returns the first column left for the scalar loop.
///
/// # Safety
/// The CPU has AVX2 and FMA; `b` holds every row `idx[q]` with `c.len()` columns.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn axpy_rows(
    idx: &[u32],
    val: &[f32],
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
) -> usize {
    let n = c.len();
    let mut j = 0;
    // SAFETY: forwarded from the caller; j + V*8 <= n in each call.
    unsafe {
        while j + 64 <= n {
            axpy_block::<8>(idx, val, b.as_ptr().add(j), ldb, c.as_mut_ptr().add(j));
            j += 64;
        }
        if j + 32 <= n {
            axpy_block::<4>(idx, val, b.as_ptr().add(j), ldb, c.as_mut_ptr().add(j));
            j += 32;
        }
        if j + 16 <= n {
            axpy_block::<2>(idx, val, b.as_ptr().add(j), ldb, c.as_mut_ptr().add(j));
            j += 16;
        }
        if j + 8 <= n {
            axpy_block::<1>(idx, val, b.as_ptr().add(j), ldb, c.as_mut_ptr().add(j));
            j += 8;
        }
    }
    j
}

/// `c[0..8V] += Σ_q val[q] · b[idx[q]·ldb ..][0..8V]`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn axpy_block<const V: usize>(
    idx: &[u32],
    val: &[f32],
    b: *const f32,
    ldb: usize,
    c: *mut f32,
) {
    // SAFETY: the caller guarantees the rows and columns are in bounds.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); V];
        for (v, a) in acc.iter_mut().enumerate() {
            *a = _mm256_loadu_ps(c.add(8 * v));
        }
        for (&p, &x) in idx.iter().zip(val) {
            let row = b.add(p as usize * ldb);
            let xv = _mm256_set1_ps(x);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_ps(xv, _mm256_loadu_ps(row.add(8 * v)), *a);
            }
        }
        for (v, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(c.add(8 * v), *a);
        }
    }
}
