//! Scores of known strategies, run as Python through the sandboxed evaluator, against
//! values derived from the rules: exact expectations (enumerating every column history,
//! with the opponents' move probabilities written out from the spec) for the 0/1 games,
//! a long native simulation for Blotto; the starters against MLGym's baselines; and
//! determinism.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod games_support;

// Inside `mod games` so that `cargo test -p mlgym-tasks games` selects these tests.
mod games {
    use crate::games_support::{assert_close, env, run, starter};
    use mlgym_tasks::games::{simulate_native, Blotto, GameId, ROUNDS, SIMULATIONS};

    type History = [(u8, u8)];
    /// P(column plays 1 | history).
    type ProbOne = dyn Fn(&History) -> f64;
    /// The row's payoff for (row, column).
    type Payoff = fn(u8, u8) -> f64;

    /// E[row's mean payoff per round] for a deterministic row strategy, by enumerating the
    /// column's moves: `p_one(history)` is the probability that the column plays 1.
    fn exact(row: &dyn Fn(&History) -> u8, p_one: &ProbOne, payoff: Payoff) -> f64 {
        fn go(
            h: &mut Vec<(u8, u8)>,
            row: &dyn Fn(&History) -> u8,
            p_one: &ProbOne,
            payoff: Payoff,
        ) -> f64 {
            if h.len() == ROUNDS {
                return h.iter().map(|&(r, c)| payoff(r, c)).sum::<f64>() / ROUNDS as f64;
            }
            let r = row(h);
            let p = p_one(h);
            let mut e = 0.0;
            for (c, pc) in [(0u8, 1.0 - p), (1u8, p)] {
                if pc > 0.0 {
                    h.push((r, c));
                    e += pc * go(h, row, p_one, payoff);
                    h.pop();
                }
            }
            e
        }
        go(&mut Vec::new(), row, p_one, payoff)
    }

    fn bos_payoff(r: u8, c: u8) -> f64 {
        match (r, c) {
            (0, 0) => 2.0,
            (1, 1) => 1.0,
            _ => 0.0,
        }
    }

    /// Battle of the Sexes opponent: 1 first; then the row's first move w.p. 0.8.
    fn bos_p_one(h: &History) -> f64 {
        match h.first() {
            None => 1.0,
            Some(&(1, _)) => 0.8,
            Some(_) => 0.2,
        }
    }

    fn pd_payoff(r: u8, c: u8) -> f64 {
        [[3.0, 0.0], [5.0, 1.0]][r as usize][c as usize]
    }

    /// The Prisoner's Dilemma mixture: the average over its 11 members of P(defect).
    fn pd_p_one(h: &History) -> f64 {
        let last = h.last().copied();
        let b = |x: bool| f64::from(u8::from(x));
        let two = h.len() >= 2 && h[h.len() - 1].0 == 1 && h[h.len() - 2].0 == 1;
        let members = [
            // simple random: 1 first; then P(1) = (0.5 - 0.3333) + 0.4·[own last = 1] + 0.1·[row last = 0].
            last.map_or(1.0, |(r, c)| {
                (0.5 - 0.3333) + 0.4 * b(c == 1) + 0.1 * b(r == 0)
            }),
            last.map_or(0.0, |(r, _)| b(r == 1)), // tit for tat
            0.0,                                  // always cooperate
            1.0,                                  // always defect
            0.5,                                  // random
            b(h.iter().any(|&(r, _)| r == 1)),    // grim trigger
            last.map_or(0.0, |(r, c)| b(r != c)), // pavlov
            b(two),                               // tit for two tats
            last.map_or(1.0, |(r, _)| b(r == 1)), // suspicious tit for tat
            0.5,                                  // random cooperate
            last.map_or(0.0, |(r, _)| if two { 0.0 } else { b(r == 1) }), // forgiving tit for tat
        ];
        members.iter().sum::<f64>() / members.len() as f64
    }

    fn check_binary(game: GameId, name: &str, source: &str, row: &dyn Fn(&History) -> u8) {
        let Some(cfg) = env() else { return };
        let (p_one, payoff): (&ProbOne, Payoff) = match game {
            GameId::BattleOfSexes => (&bos_p_one, bos_payoff),
            _ => (&pd_p_one, pd_payoff),
        };
        let expected = exact(row, p_one, payoff);
        let s = run(cfg, game, source, 3).unwrap();
        assert_eq!(s.simulations, SIMULATIONS);
        assert_close(
            &format!("{} {name}", game.task_id()),
            s.score,
            expected,
            s.standard_error,
        );
    }

    const ALWAYS_0: &str = "def row_strategy(history):\n    return 0\n";
    const ALWAYS_1: &str = "def row_strategy(history):\n    return 1\n";
    const COPY_LAST: &str =
        "def row_strategy(history):\n    return history[-1][1] if history else 0\n";

    #[test]
    fn battle_of_sexes_always_0_scores_1_44() {
        assert!((exact(&|_| 0, &bos_p_one, bos_payoff) - 1.44).abs() < 1e-12);
        check_binary(GameId::BattleOfSexes, "always 0", ALWAYS_0, &|_| 0);
    }

    #[test]
    fn battle_of_sexes_always_1_scores_0_82() {
        assert!((exact(&|_| 1, &bos_p_one, bos_payoff) - 0.82).abs() < 1e-12);
        check_binary(GameId::BattleOfSexes, "always 1", ALWAYS_1, &|_| 1);
    }

    #[test]
    fn battle_of_sexes_copying_the_opponent_scores_1_076() {
        let row = |h: &History| h.last().map_or(0, |&(_, c)| c);
        // Round 1: 0 vs 1; round 2: copies 1, matched w.p. 0.2; later rounds: two independent
        // draws of the opponent (0 w.p. 0.8): 0.64·2 + 0.04·1.
        assert!((exact(&row, &bos_p_one, bos_payoff) - (0.2 + 8.0 * 1.32) / 10.0).abs() < 1e-12);
        check_binary(GameId::BattleOfSexes, "copy last", COPY_LAST, &row);
    }

    #[test]
    fn prisoners_dilemma_always_defect() {
        check_binary(GameId::PrisonersDilemma, "always defect", ALWAYS_1, &|_| 1);
    }

    #[test]
    fn prisoners_dilemma_always_cooperate() {
        check_binary(
            GameId::PrisonersDilemma,
            "always cooperate",
            ALWAYS_0,
            &|_| 0,
        );
    }

    #[test]
    fn prisoners_dilemma_tit_for_tat() {
        check_binary(
            GameId::PrisonersDilemma,
            "tit for tat",
            COPY_LAST,
            &|h: &History| h.last().map_or(0, |&(_, c)| c),
        );
    }

    fn check_blotto(name: &str, source: &str, alloc: [u32; 6]) {
        let Some(cfg) = env() else { return };
        // The expectation from a long native run on other seeds (40× the simulations).
        let reference = simulate_native::<Blotto>(|_| alloc, 0xB10770, 40 * SIMULATIONS, ROUNDS);
        let s = run(cfg, GameId::Blotto, source, 3).unwrap();
        let se = (s.standard_error.powi(2) + reference.standard_error.powi(2)).sqrt();
        assert_close(&format!("blotto {name}"), s.score, reference.score, se);
    }

    #[test]
    fn blotto_twenty_everywhere() {
        check_blotto(
            "20 on every field",
            "def row_strategy(history):\n    return [20] * 6\n",
            [20; 6],
        );
    }

    #[test]
    fn blotto_four_thirties() {
        check_blotto(
            "30,30,30,30,0,0",
            "def row_strategy(history):\n    return [30, 30, 30, 30, 0, 0]\n",
            [30, 30, 30, 30, 0, 0],
        );
    }

    #[test]
    fn starters_match_mlgym_baselines() {
        let Some(cfg) = env() else { return };
        for game in GameId::ALL {
            let task = mlgym_tasks::registry::get(game.task_id()).unwrap();
            let mlgym = task.def.baseline.mlgym["Score"];
            let s = run(cfg, game, &starter(game), 0).unwrap();
            eprintln!(
                "{} starter, seed 0: Score = {:?}, SE = {:?}",
                game.task_id(),
                s.score,
                s.standard_error
            );
            // MLGym's number is one noisy run too: compare with both uncertainties.
            assert_close(
                &format!("{} starter vs MLGym", game.task_id()),
                s.score,
                mlgym,
                s.standard_error * 2f64.sqrt(),
            );
            if let Some(&ours) = task.def.baseline.ours.get("Score") {
                assert_eq!(
                    s.score,
                    ours,
                    "{}: task.toml's baseline.ours is stale",
                    game.task_id()
                );
                assert_eq!(
                    Some(&s.standard_error),
                    task.def.baseline.ours.get("Score Standard Error")
                );
            }
        }
    }

    #[test]
    fn same_seed_same_bits_other_seed_other_score() {
        let Some(cfg) = env() else { return };
        // The starters draw from Python's `random`, so this also checks its seeding.
        for game in GameId::ALL {
            let src = starter(game);
            let a = run(cfg, game, &src, 5).unwrap();
            let b = run(cfg, game, &src, 5).unwrap();
            assert_eq!(a.score.to_bits(), b.score.to_bits(), "{}", game.task_id());
            assert_eq!(a.standard_error.to_bits(), b.standard_error.to_bits());
            let c = run(cfg, game, &src, 6).unwrap();
            assert_ne!(a.score, c.score, "{}", game.task_id());
        }
    }

    #[test]
    fn python_and_native_agree_bit_for_bit_with_global_state() {
        let Some(cfg) = env() else { return };
        // A strategy with a global call counter: only MLGym's sequential order (simulation
        // after simulation, round after round, one process) reproduces the native run.
        let src = "calls = 0\n\ndef row_strategy(history):\n    global calls\n    calls += 1\n    if calls % 7 == 0:\n        return 1\n    return history[-1][1] if history else 0\n";
        let mut until_seventh = 7u64;
        let native = simulate_native::<mlgym_tasks::games::PrisonersDilemma>(
            |h| {
                until_seventh -= 1;
                if until_seventh == 0 {
                    until_seventh = 7;
                    1
                } else {
                    h.last().map_or(0, |&(_, c)| c)
                }
            },
            11,
            SIMULATIONS,
            ROUNDS,
        );
        let s = run(cfg, GameId::PrisonersDilemma, src, 11).unwrap();
        assert_eq!(
            s.score.to_bits(),
            native.score.to_bits(),
            "python {} vs native {}",
            s.score,
            native.score
        );
        let blotto_native = simulate_native::<Blotto>(
            |h| {
                if h.len() % 2 == 0 {
                    [20; 6]
                } else {
                    [30, 30, 30, 30, 0, 0]
                }
            },
            11,
            SIMULATIONS,
            ROUNDS,
        );
        let src = "def row_strategy(history):\n    return [20] * 6 if len(history) % 2 == 0 else [30, 30, 30, 30, 0, 0]\n";
        let s = run(cfg, GameId::Blotto, src, 11).unwrap();
        assert_eq!(s.score.to_bits(), blotto_native.score.to_bits());
    }

    #[test]
    fn prints_and_helper_modules_work() {
        let Some(cfg) = env() else { return };
        let ev = mlgym_tasks::games::GameEvaluator::new(GameId::BattleOfSexes);
        let files = [
        ("strategy.py", "import sys\nfrom helper import choose\n\ndef row_strategy(history):\n    print('thinking', history)\n    print('more', file=sys.stderr)\n    return choose()\n"),
        ("helper.py", "def choose():\n    return 0\n"),
    ];
        let s = crate::games_support::run_files(cfg, &ev, &files, 3).unwrap();
        let plain = run(cfg, GameId::BattleOfSexes, ALWAYS_0, 3).unwrap();
        assert_eq!(s.score, plain.score);
    }

    #[test]
    fn registry_hooks_run_the_baseline_through_the_evaluator_trait() {
        let Some(cfg) = env() else { return };
        let task = mlgym_tasks::registry::get("prisonersDilemma").unwrap();
        assert_eq!(task.def.domain, "game-theory");
        assert_eq!(task.def.primary_metric().name, "Score");
        let out = crate::games_support::dir("mlgym-games-baseline");
        let scratch = crate::games_support::dir("mlgym-games-scratch");
        let progress = |_: &str| {};
        let bctx = mlgym_tasks::BaselineContext {
            task: &task.def,
            out_dir: out.path(),
            data_root: scratch.path(),
            seed: 0,
            quick: false,
            progress: &progress,
        };
        task.hooks.baseline.as_ref().unwrap().run(&bctx).unwrap();
        let ctx = mlgym_tasks::EvalContext {
            task: &task.def,
            submission_dir: out.path(),
            scratch_dir: scratch.path(),
            data_root: scratch.path(),
            seed: 0,
            agent_code: cfg,
        };
        let metrics = task.hooks.evaluator.evaluate(&ctx).unwrap();
        assert_eq!(metrics, task.def.baseline.ours);
    }
}
