//! MLGym's learning-rate schedule, quirk included.
//!
//! MLGym builds `optax.linear_schedule(-lr_begin, -lr_end, transition_steps)` with
//! `transition_steps = int(num_train_steps · lr_warmup)`, a number of *environment* steps,
//! but optax counts *optimiser updates*, which are far fewer. MountainCar, for example,
//! makes 9,696 updates against a 600,000-update transition, so its rate only drifts from
//! 6e-4 to about 5.98e-4; Breakout and MetaMaze have `lr_begin = lr_end` anyway. This
//! module reproduces that.

use super::config::PpoConfig;

/// `int(num_train_steps · lr_warmup)`: the schedule's length in optimiser updates.
pub fn transition_updates(cfg: &PpoConfig) -> u64 {
    (cfg.num_train_steps as f64 * cfg.lr_warmup) as u64
}

/// The learning rate of the update that follows `count` earlier updates.
pub fn learning_rate(cfg: &PpoConfig, count: u64) -> f32 {
    let steps = transition_updates(cfg);
    if steps == 0 {
        // optax returns the constant initial value for an empty transition.
        return cfg.lr_begin as f32;
    }
    let frac = 1.0 - count.min(steps) as f64 / steps as f64;
    ((cfg.lr_begin - cfg.lr_end) * frac + cfg.lr_end) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl::env::EnvId;

    #[test]
    fn mountain_car_barely_moves_off_lr_begin() {
        let cfg = PpoConfig::mlgym(EnvId::MountainCarContinuous);
        assert_eq!(transition_updates(&cfg), 600_000);
        assert_eq!(learning_rate(&cfg, 0), 6e-4);
        let last = learning_rate(&cfg, 9_695);
        assert!((last - 5.9838e-4).abs() < 1e-8, "{last}");
        assert_eq!(learning_rate(&cfg, 10_000_000), 5e-4);
    }

    #[test]
    fn constant_when_begin_equals_end_or_no_transition() {
        let cfg = PpoConfig::mlgym(EnvId::Breakout);
        assert_eq!(learning_rate(&cfg, 123), 5e-4);
        let mut tiny = PpoConfig::mlgym(EnvId::MountainCarContinuous);
        tiny.num_train_steps = 10;
        assert_eq!(learning_rate(&tiny, 5), 6e-4);
    }
}
