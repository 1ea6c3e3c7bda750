//! The NHWC layers of `mlgym_kernels::conv` against candle's reference path (its NCHW
//! `conv2d`, `max_pool2d` and `matmul`, differentiated by candle's autograd): forward
//! values and every gradient, on random data; and bit-identical results for any number
//! of threads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use mlgym_kernels::conv::{conv2d_nhwc, conv2d_relu_pool_nhwc, linear, max_pool2x2_nhwc};

fn rand(shape: &[usize], seed: u64) -> Tensor {
    // A fixed LCG keeps the test independent of candle's random generator.
    let n: usize = shape.iter().product();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn close(what: &str, a: &Tensor, b: &Tensor, tol: f32) {
    let scale = b
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
        .max(1.0);
    let d = max_abs_diff(a, b);
    assert!(d <= tol * scale, "{what}: max |diff| {d} (scale {scale})");
}

/// The gradients of `sum(t * r)`: a random weighting, so that every output element's
/// gradient differs.
fn weighted_grads(t: &Tensor, r: &Tensor) -> GradStore {
    (t * r).unwrap().sum_all().unwrap().backward().unwrap()
}

/// `ours` and `reference` have the same gradients (within `tol`) with respect to each of
/// `vars`, for the weighting `r`.
fn grads_close(ours: &Tensor, reference: &Tensor, r: &Tensor, vars: [(&str, &Var); 3], tol: f32) {
    let (g_ours, g_ref) = (weighted_grads(ours, r), weighted_grads(reference, r));
    for (name, v) in vars {
        close(name, g_ours.get(v).unwrap(), g_ref.get(v).unwrap(), tol);
    }
}

/// One convolution checked against candle: forward, dx, dw, db.
#[allow(clippy::too_many_arguments)]
fn check_conv(
    n: usize,
    h: usize,
    w: usize,
    ci: usize,
    co: usize,
    k: usize,
    pad: usize,
    relu: bool,
) {
    let x = Var::from_tensor(&rand(&[n, h, w, ci], 1)).unwrap();
    let wt = Var::from_tensor(&(rand(&[k, k, ci, co], 2) * 0.5).unwrap()).unwrap();
    let b = Var::from_tensor(&(rand(&[co], 3) * 0.1).unwrap()).unwrap();
    let ours = conv2d_nhwc(&x, &wt, &b, pad, relu).unwrap();

    let x_nchw = x.permute((0, 3, 1, 2)).unwrap();
    let w_oihw = wt.permute((3, 2, 0, 1)).unwrap().contiguous().unwrap();
    let mut reference = x_nchw
        .conv2d(&w_oihw, pad, 1, 1, 1)
        .unwrap()
        .broadcast_add(&b.reshape((1, co, 1, 1)).unwrap())
        .unwrap();
    if relu {
        reference = reference.relu().unwrap();
    }
    let reference = reference
        .permute((0, 2, 3, 1))
        .unwrap()
        .contiguous()
        .unwrap();
    close("forward", &ours, &reference, 1e-5);

    let r = rand(ours.dims(), 4);
    grads_close(
        &ours,
        &reference,
        &r,
        [("dx", &x), ("dw", &wt), ("db", &b)],
        1e-4,
    );
}

#[test]
fn conv_matches_candle_on_the_baseline_shapes() {
    // Fashion-MNIST's two layers (small batch) and CIFAR-10's first layer.
    check_conv(3, 28, 28, 1, 32, 3, 1, true);
    check_conv(3, 14, 14, 32, 64, 3, 1, true);
    check_conv(2, 32, 32, 3, 32, 3, 1, true);
}

#[test]
fn conv_matches_candle_on_odd_shapes() {
    check_conv(5, 7, 9, 3, 4, 3, 0, false);
    check_conv(2, 6, 5, 2, 3, 5, 2, true);
    check_conv(1, 3, 3, 1, 1, 1, 0, false);
    // More images than one chunk holds, so that partial gradients are summed.
    check_conv(70, 4, 4, 2, 3, 3, 1, false);
}

#[test]
fn input_gradient_is_skipped_for_plain_tensors() {
    let x = rand(&[2, 5, 5, 1], 1);
    let w = Var::from_tensor(&rand(&[3, 3, 1, 2], 2)).unwrap();
    let b = Var::from_tensor(&rand(&[2], 3)).unwrap();
    let y = conv2d_nhwc(&x, &w, &b, 1, true).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    assert!(g.get(&x).is_none());
    assert!(g.get(&w).is_some() && g.get(&b).is_some());
}

#[test]
fn max_pool_matches_candle() {
    for (h, w) in [(28, 28), (7, 9)] {
        let x = Var::from_tensor(&rand(&[3, h, w, 5], 7)).unwrap();
        let ours = max_pool2x2_nhwc(&x).unwrap();
        let reference = x
            .permute((0, 3, 1, 2))
            .unwrap()
            .max_pool2d(2)
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap()
            .contiguous()
            .unwrap();
        assert_eq!(max_abs_diff(&ours, &reference), 0.0);
        let r = rand(ours.dims(), 8);
        let (g_ours, g_ref) = (weighted_grads(&ours, &r), weighted_grads(&reference, &r));
        let gx = g_ours.get(&x).unwrap();
        if h % 2 == 0 && w % 2 == 0 {
            // Candle's max-pool backward multiplies the gradient by (number of maxima in
            // the window) / 4 where it should divide by the number of maxima: with a
            // unique maximum its gradient is a quarter of the true one (PyTorch's, ours).
            let candle_times_4 = (g_ref.get(&x).unwrap() * 4.0).unwrap();
            assert_eq!(max_abs_diff(gx, &candle_times_4), 0.0);
        }
        // Checked directly: each window's gradient lands on its maximum, and a dropped
        // last row (odd height) gets none.
        let (xv, gv, rv) = (x.to_rows(), gx.to_rows(), r.to_rows());
        for (img, (xi, gi)) in xv.iter().zip(&gv).enumerate() {
            for oy in 0..h / 2 {
                for ox in 0..w / 2 {
                    for c in 0..5 {
                        let at = |dy: usize, dx: usize| ((2 * oy + dy) * w + 2 * ox + dx) * 5 + c;
                        let cells = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
                        let best = *cells
                            .iter()
                            .max_by(|a, b| xi[**a].total_cmp(&xi[**b]))
                            .unwrap();
                        for p in cells {
                            let want = if p == best {
                                rv[img][(oy * (w / 2) + ox) * 5 + c]
                            } else {
                                0.0
                            };
                            assert_eq!(gi[p], want);
                        }
                    }
                }
            }
            if h % 2 == 1 {
                assert!((0..w * 5).all(|j| gi[(h - 1) * w * 5 + j] == 0.0));
            }
        }
    }
}

trait Rows {
    fn to_rows(&self) -> Vec<Vec<f32>>;
}

impl Rows for Tensor {
    /// One flat vector per image.
    fn to_rows(&self) -> Vec<Vec<f32>> {
        let n = self.dims()[0];
        self.reshape((n, ())).unwrap().to_vec2::<f32>().unwrap()
    }
}

#[test]
fn max_pool_routes_ties_to_the_first_maximum() {
    let x =
        Var::from_tensor(&Tensor::zeros((1, 2, 2, 1), DType::F32, &Device::Cpu).unwrap()).unwrap();
    let g = max_pool2x2_nhwc(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(
        g.get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap(),
        [1.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn linear_matches_candle() {
    let x = Var::from_tensor(&rand(&[6, 37], 11)).unwrap();
    let w = Var::from_tensor(&rand(&[10, 37], 12)).unwrap();
    let b = Var::from_tensor(&rand(&[10], 13)).unwrap();
    let ours = linear(&x, &w, &b).unwrap();
    let reference = x
        .matmul(&w.t().unwrap())
        .unwrap()
        .broadcast_add(&b)
        .unwrap();
    close("forward", &ours, &reference, 1e-5);
    let r = rand(&[6, 10], 14);
    grads_close(
        &ours,
        &reference,
        &r,
        [("dx", &x), ("dw", &w), ("db", &b)],
        1e-5,
    );
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let run = || {
        let x = Var::from_tensor(&rand(&[64, 14, 14, 32], 21)).unwrap();
        let w = Var::from_tensor(&rand(&[3, 3, 32, 64], 22)).unwrap();
        let b = Var::from_tensor(&rand(&[64], 23)).unwrap();
        let y = conv2d_nhwc(&x, &w, &b, 1, true).unwrap();
        let p = max_pool2x2_nhwc(&y).unwrap();
        let g = p.sum_all().unwrap().backward().unwrap();
        let f = conv2d_relu_pool_nhwc(&x, &w, &b, 1).unwrap();
        let gf = f.sum_all().unwrap().backward().unwrap();
        [
            p,
            g.get(&x).unwrap().clone(),
            g.get(&w).unwrap().clone(),
            g.get(&b).unwrap().clone(),
            f,
            gf.get(&x).unwrap().clone(),
            gf.get(&w).unwrap().clone(),
            gf.get(&b).unwrap().clone(),
        ]
        .map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(run);
    let three = pool(3).install(run);
    for (a, b) in one.iter().zip(&three) {
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

#[test]
fn fused_conv_relu_pool_matches_the_separate_layers() {
    for (n, h, w, ci, co) in [(3, 28, 28, 1, 32), (70, 7, 7, 3, 5), (2, 14, 14, 32, 64)] {
        let x = Var::from_tensor(&rand(&[n, h, w, ci], 31)).unwrap();
        let wt = Var::from_tensor(&rand(&[3, 3, ci, co], 32)).unwrap();
        let b = Var::from_tensor(&rand(&[co], 33)).unwrap();
        let fused = conv2d_relu_pool_nhwc(&x, &wt, &b, 1).unwrap();
        let separate = max_pool2x2_nhwc(&conv2d_nhwc(&x, &wt, &b, 1, true).unwrap()).unwrap();
        assert_eq!(max_abs_diff(&fused, &separate), 0.0);
        let r = rand(fused.dims(), 34);
        grads_close(
            &fused,
            &separate,
            &r,
            [("dx", &x), ("dw", &wt), ("db", &b)],
            1e-5,
        );
    }
}
