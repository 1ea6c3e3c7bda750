//! Timing of a whole game-theory evaluation (sandbox start, Python start, import,
//! 10,000 × 10 calls), for `scripts/bench/game_theory.sh`. Ignored by default:
//!
//! `cargo test --release -p mlgym-tasks --test games_bench -- --ignored --nocapture`
//!
//! Prints one JSON line per game: median and best of `GAMES_BENCH_REPEAT` (default 5)
//! evaluations of the starter strategy (or of `GAMES_BENCH_<GAME>`, a path to a
//! strategy.py, GAME = bos, pd or blotto), with `GAMES_BENCH_SIMULATIONS` simulations
//! (default 10,000; 1 measures the fixed start-up cost).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod games_support;

// Inside `mod games` so that `cargo test -p mlgym-tasks games` selects these tests.
mod games {
    use std::time::Instant;

    use mlgym_tasks::games::GameId;

    #[test]
    #[ignore = "benchmark; run by scripts/bench/game_theory.sh"]
    fn time_evaluations() {
        let Some(cfg) = crate::games_support::env() else {
            return;
        };
        let repeat: usize = std::env::var("GAMES_BENCH_REPEAT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let simulations: usize = std::env::var("GAMES_BENCH_SIMULATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(mlgym_tasks::games::SIMULATIONS);
        for (game, short) in [
            (GameId::BattleOfSexes, "bos"),
            (GameId::PrisonersDilemma, "pd"),
            (GameId::Blotto, "blotto"),
        ] {
            let source = match std::env::var(format!("GAMES_BENCH_{}", short.to_uppercase())) {
                Ok(path) => std::fs::read_to_string(path).unwrap(),
                Err(_) => crate::games_support::starter(game),
            };
            let mut times = Vec::new();
            let mut score = 0.0;
            for i in 0..repeat {
                let t = Instant::now();
                let mut ev = mlgym_tasks::games::GameEvaluator::new(game);
                ev.simulations = simulations;
                score = crate::games_support::run_files(
                    cfg,
                    &ev,
                    &[("strategy.py", &source)],
                    i as u64,
                )
                .unwrap()
                .score;
                times.push(t.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{{\"game\": \"{short}\", \"median_s\": {}, \"best_s\": {}, \"score\": {score}}}",
                times[times.len() / 2],
                times[0]
            );
        }
    }
}
