//! Colonel Blotto opponent: ignores the history and allocates 120 soldiers at random.
//!
//! Six independent uniform draws from 0..=120 are scaled to `floor(x · 120 / sum)`; the
//! soldiers lost to flooring (the shortfall) all go to one uniformly chosen battlefield.
//! MLGym divides by zero when all six draws are 0 (probability 121⁻⁶ ≈ 3·10⁻¹³); we
//! draw again instead.

use crate::rng::Rng;

/// Battlefields per allocation.
pub const BATTLEFIELDS: usize = 6;
/// Soldiers per side.
pub const SOLDIERS: u32 = 120;

/// Soldiers per battlefield.
pub type Allocation = [u32; BATTLEFIELDS];

/// A random allocation of exactly [`SOLDIERS`] soldiers.
pub fn random_allocation(rng: &mut Rng) -> Allocation {
    loop {
        let mut draws = [0u32; BATTLEFIELDS];
        for d in &mut draws {
            *d = rng.below(u64::from(SOLDIERS) + 1) as u32;
        }
        let sum: u32 = draws.iter().sum();
        if sum == 0 {
            continue;
        }
        // Integer floor equals MLGym's `int(x * 120 / sum)` in floating point: a
        // non-integer quotient is at least 1/726 away from an integer, far beyond
        // double rounding.
        let mut alloc = draws.map(|x| x * SOLDIERS / sum);
        let shortfall = SOLDIERS - alloc.iter().sum::<u32>();
        if shortfall > 0 {
            alloc[rng.below(BATTLEFIELDS as u64) as usize] += shortfall;
        }
        return alloc;
    }
}

/// The column's allocation for the round after any history.
pub fn column_move(_history: &[(Allocation, Allocation)], rng: &mut Rng) -> Allocation {
    random_allocation(rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_use_all_soldiers_and_floor_normalise() {
        let mut rng = Rng::new(3);
        let mut field_sum = [0u64; BATTLEFIELDS];
        let n = 60_000;
        for _ in 0..n {
            let a = random_allocation(&mut rng);
            assert_eq!(a.iter().sum::<u32>(), SOLDIERS, "{a:?}");
            for (s, x) in field_sum.iter_mut().zip(a) {
                *s += u64::from(x);
            }
        }
        // Symmetric across battlefields: 20 on average each.
        for s in field_sum {
            let mean = s as f64 / n as f64;
            assert!((mean - 20.0).abs() < 0.3, "{mean}");
        }
    }

    #[test]
    fn shortfall_goes_to_one_battlefield() {
        // Replay the generator's draws by hand: every allocation must be the floored
        // vector with the whole shortfall on one battlefield.
        let mut rng = Rng::new(11);
        let mut replay = rng.clone();
        for _ in 0..5_000 {
            let a = random_allocation(&mut rng);
            let draws: Vec<u32> = (0..BATTLEFIELDS)
                .map(|_| replay.below(121) as u32)
                .collect();
            let sum: u32 = draws.iter().sum();
            let floors: Vec<u32> = draws.iter().map(|x| x * 120 / sum).collect();
            let short = 120 - floors.iter().sum::<u32>();
            let mut expected = floors.clone();
            if short > 0 {
                expected[replay.below(6) as usize] += short;
            }
            assert_eq!(a.to_vec(), expected, "draws {draws:?}");
        }
    }
}
