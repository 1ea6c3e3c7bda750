//! How the network code uses threads, without depending on a thread pool.
//!
//! The library runs [`Par`] on rayon's pool (`rl::policy::RayonPar`); the agent's starter
//! crate, which has no dependencies, uses scoped threads. Every output element is computed
//! by one task, whatever the split, so results never depend on the number of threads or
//! pieces.

use std::sync::Mutex;

/// Runs independent tasks, possibly in parallel.
pub trait Par: Sync {
    /// Calls `f(i)` once for every `i` in `0..n`, in any order, possibly concurrently.
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync));
    /// How many tasks can usefully run at once.
    fn threads(&self) -> usize;
    /// How many pieces to split a parallel loop into: more than [`Par::threads`] lets a
    /// work-stealing pool balance the load when other processes hold some cores.
    fn pieces(&self) -> usize {
        self.threads()
    }
}

/// Everything on the calling thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Serial;

impl Par for Serial {
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        for i in 0..n {
            f(i);
        }
    }

    fn threads(&self) -> usize {
        1
    }
}

/// Scoped OS threads, one per task beyond the first (for code without a thread pool).
#[derive(Clone, Copy, Debug)]
pub struct Scoped {
    /// Number of threads.
    pub threads: usize,
}

impl Par for Scoped {
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        if n <= 1 || self.threads <= 1 {
            return Serial.run(n, f);
        }
        std::thread::scope(|s| {
            for i in 1..n {
                s.spawn(move || f(i));
            }
            f(0);
        });
    }

    fn threads(&self) -> usize {
        self.threads.max(1)
    }
}

/// Splits `out` (`rows` rows of `row_len` values) into at most `par.pieces()` pieces of
/// whole rows, none smaller than `min_rows` rows (unless there are fewer rows), and calls
/// `f(first_row, piece)` on each, possibly concurrently.
pub fn for_row_blocks(
    par: &dyn Par,
    out: &mut [f32],
    row_len: usize,
    rows: usize,
    min_rows: usize,
    f: &(dyn Fn(usize, &mut [f32]) + Sync),
) {
    let out = &mut out[..rows * row_len];
    let pieces = par.pieces().min(rows / min_rows.max(1)).max(1);
    if pieces == 1 || row_len == 0 {
        f(0, out);
        return;
    }
    let per = rows.div_ceil(pieces);
    let blocks: Vec<Mutex<(usize, &mut [f32])>> = out
        .chunks_mut(per * row_len)
        .enumerate()
        .map(|(i, c)| Mutex::new((i * per, c)))
        .collect();
    par.run(blocks.len(), &|i| {
        let mut guard = blocks[i].lock().unwrap_or_else(|e| e.into_inner());
        let (row0, ref mut piece) = *guard;
        f(row0, piece);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_blocks_cover_every_row_once() {
        for par in [&Serial as &dyn Par, &Scoped { threads: 3 }] {
            let mut out = vec![0.0f32; 10 * 3];
            for_row_blocks(par, &mut out, 3, 10, 2, &|row0, piece| {
                for (r, row) in piece.chunks_mut(3).enumerate() {
                    for v in row {
                        *v += (row0 + r) as f32;
                    }
                }
            });
            let want: Vec<f32> = (0..30).map(|q| (q / 3) as f32).collect();
            assert_eq!(out, want);
        }
    }
}
