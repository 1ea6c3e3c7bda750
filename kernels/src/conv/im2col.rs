//! Geometry of a stride-1, zero-padded 2-D convolution on NHWC tensors, and the
//! `im2col` / `col2im` transforms that turn it into matrix products.
//!
//! Row `r` of the column matrix is output pixel `(n, oy, ox)` (row-major over the
//! chunk's images); column `(ky·KW + kx)·Ci + ci` holds `x[n, oy+ky−pad, ox+kx−pad, ci]`,
//! or 0 outside the image. Weights are stored `[KH, KW, Ci, Co]`, i.e. as the
//! `K × Co` matrix with `K = KH·KW·Ci` that multiplies the column matrix.

/// Shapes of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch size.
    pub n: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Input channels.
    pub ci: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Output channels.
    pub co: usize,
    /// Zero padding on every side.
    pub pad: usize,
}

impl ConvGeom {
    /// Output height (`h + 2·pad − kh + 1`).
    pub fn oh(&self) -> usize {
        (self.h + 2 * self.pad + 1).saturating_sub(self.kh)
    }

    /// Output width.
    pub fn ow(&self) -> usize {
        (self.w + 2 * self.pad + 1).saturating_sub(self.kw)
    }

    /// Length of one column-matrix row (`kh·kw·ci`).
    pub fn k(&self) -> usize {
        self.kh * self.kw * self.ci
    }

    /// Elements of one input image.
    pub fn in_image(&self) -> usize {
        self.h * self.w * self.ci
    }

    /// Output pixels of one image.
    pub fn out_pixels(&self) -> usize {
        self.oh() * self.ow()
    }

    /// Images per work chunk: about 1024 column rows, from the shapes alone (never from
    /// the thread count, so partial sums are always added in the same order).
    pub fn images_per_chunk(&self) -> usize {
        (1024 / self.out_pixels().max(1)).clamp(1, self.n.max(1))
    }
}

/// Fills `cols` (`images·oh·ow × k`) from `x` (`images` NHWC images).
pub fn im2col(g: &ConvGeom, x: &[f32], images: usize, cols: &mut [f32]) {
    let (oh, ow, k, ci) = (g.oh(), g.ow(), g.k(), g.ci);
    let row_of_kernel = g.kw * ci;
    for img in 0..images {
        let xi = &x[img * g.in_image()..(img + 1) * g.in_image()];
        for oy in 0..oh {
            for ox in 0..ow {
                let r = (img * oh + oy) * ow + ox;
                let row = &mut cols[r * k..(r + 1) * k];
                for ky in 0..g.kh {
                    let dst = &mut row[ky * row_of_kernel..(ky + 1) * row_of_kernel];
                    let iy = (oy + ky) as isize - g.pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    let line = &xi[iy as usize * g.w * ci..(iy as usize + 1) * g.w * ci];
                    // Columns kx whose input x lies inside the image are one contiguous run.
                    let x0 = ox as isize - g.pad as isize;
                    let lo = (-x0).clamp(0, g.kw as isize) as usize;
                    let hi = (g.w as isize - x0).clamp(0, g.kw as isize) as usize;
                    dst[..lo * ci].fill(0.0);
                    if hi > lo {
                        let src0 = (x0 + lo as isize) as usize * ci;
                        dst[lo * ci..hi * ci].copy_from_slice(&line[src0..src0 + (hi - lo) * ci]);
                    }
                    dst[hi.max(lo) * ci..].fill(0.0);
                }
            }
        }
    }
}

/// Adds the column-matrix gradient `dcols` back onto `dx` (`images` NHWC images), the
/// adjoint of [`im2col`]. Sequential, so the order of additions is fixed.
pub fn col2im(g: &ConvGeom, dcols: &[f32], images: usize, dx: &mut [f32]) {
    let (oh, ow, k, ci) = (g.oh(), g.ow(), g.k(), g.ci);
    let row_of_kernel = g.kw * ci;
    for img in 0..images {
        let xi = &mut dx[img * g.in_image()..(img + 1) * g.in_image()];
        for oy in 0..oh {
            for ox in 0..ow {
                let r = (img * oh + oy) * ow + ox;
                let row = &dcols[r * k..(r + 1) * k];
                for ky in 0..g.kh {
                    let iy = (oy + ky) as isize - g.pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let src = &row[ky * row_of_kernel..(ky + 1) * row_of_kernel];
                    let line = &mut xi[iy as usize * g.w * ci..(iy as usize + 1) * g.w * ci];
                    let x0 = ox as isize - g.pad as isize;
                    let lo = (-x0).clamp(0, g.kw as isize) as usize;
                    let hi = (g.w as isize - x0).clamp(0, g.kw as isize) as usize;
                    if hi > lo {
                        let dst0 = (x0 + lo as isize) as usize * ci;
                        let dst = &mut line[dst0..dst0 + (hi - lo) * ci];
                        for (d, s) in dst.iter_mut().zip(&src[lo * ci..hi * ci]) {
                            *d += *s;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> == <x, col2im(c)> for random x and c.
        let g = ConvGeom {
            n: 2,
            h: 5,
            w: 4,
            ci: 3,
            kh: 3,
            kw: 3,
            co: 1,
            pad: 1,
        };
        let x: Vec<f32> = (0..g.n * g.in_image())
            .map(|i| ((i * 7 % 13) as f32) - 6.0)
            .collect();
        let rows = g.n * g.out_pixels();
        let c: Vec<f32> = (0..rows * g.k())
            .map(|i| ((i * 5 % 11) as f32) - 5.0)
            .collect();
        let mut cols = vec![f32::NAN; rows * g.k()];
        im2col(&g, &x, g.n, &mut cols);
        let mut dx = vec![0.0f32; x.len()];
        col2im(&g, &c, g.n, &mut dx);
        let lhs: f64 = cols
            .iter()
            .zip(&c)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        let rhs: f64 = x
            .iter()
            .zip(&dx)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        assert_eq!(lhs, rhs);
        assert_eq!((g.oh(), g.ow(), g.k()), (5, 4, 27));
        // Corner pixel (0,0): the first kernel row and column read padding.
        assert_eq!(&cols[..9], &[0.0; 9]);
        assert_eq!(&cols[12..15], &x[0..3]);
    }
}
