//! The game-theory evaluator: starts the agent's strategy in one fresh sandbox, plays
//! MLGym's 10,000 × 10 rounds against the native hidden opponent, and reports `Score`
//! and its standard error.

use std::marker::PhantomData;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::game::{BattleOfSexes, Blotto, Game, GameId, PrisonersDilemma};
use super::protocol::{Failure, GameLimits, StrategyProcess};
use super::simulate::{simulate, RowPlayer, Turn, ROUNDS, SIMULATIONS};
use super::stats::Summary;
use crate::agent_code::{python_argv, sandbox_spec, write_harness, AgentLimits};
use crate::evaluator::{EvalContext, EvalError, Evaluator, Metrics};

/// The harness run inside the sandbox (see the module documentation of `games`).
pub const HARNESS: &str = include_str!("harness.py");

/// Name of the primary metric (MLGym's).
pub const SCORE: &str = "Score";
/// Name of the standard-error metric.
pub const SCORE_STANDARD_ERROR: &str = "Score Standard Error";

/// The file the agent submits.
pub const STRATEGY_FILE: &str = "strategy.py";

/// The seed of the strategy's Python `random` module (and NumPy's global generator)
/// for evaluation seed `seed`: the first 8 bytes (little-endian) of
/// SHA-256(`"mlgym games: python random seed"` ‖ `seed` as 8 little-endian bytes).
/// One-way, so the strategy cannot work back to the opponent's seed.
pub fn python_seed(seed: u64) -> u64 {
    let mut h = Sha256::new();
    h.update(b"mlgym games: python random seed");
    h.update(seed.to_le_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b)
}

/// Scores a `strategy.py` at one of the games.
#[derive(Clone, Debug)]
pub struct GameEvaluator {
    /// The game.
    pub game: GameId,
    /// Simulations (MLGym: 10,000).
    pub simulations: usize,
    /// Rounds per simulation (MLGym: 10).
    pub rounds: usize,
    /// Time and memory limits.
    pub limits: GameLimits,
}

impl GameEvaluator {
    /// MLGym's protocol for `game` with the default limits.
    pub fn new(game: GameId) -> GameEvaluator {
        GameEvaluator {
            game,
            simulations: SIMULATIONS,
            rounds: ROUNDS,
            limits: GameLimits::default(),
        }
    }

    /// Runs the evaluation and returns score and standard error.
    pub fn run(&self, ctx: &EvalContext<'_>) -> Result<Summary, EvalError> {
        let strategy = ctx.submission_dir.join(STRATEGY_FILE);
        if !strategy.is_file() {
            return Err(EvalError::SubmissionNotFound(format!(
                "{STRATEGY_FILE} (the file that defines row_strategy(history)) is not in the submission"
            )));
        }
        allow_traversal(ctx.scratch_dir)?;
        let harness_dir = write_harness(ctx.scratch_dir, &[("harness.py", HARNESS.as_bytes())])
            .map_err(|e| {
                EvalError::io(
                    format!(
                        "writing the game harness into {}",
                        ctx.scratch_dir.display()
                    ),
                    e,
                )
            })?;
        // The sandbox's own limits back up ours: a little longer, so ours report first.
        let margin = Duration::from_secs(10);
        let agent_limits = AgentLimits {
            memory_bytes: self.limits.memory_bytes,
            cpu_seconds: (self.limits.total + margin).as_secs().max(1),
            wall: self.limits.total + margin,
            processes: 64,
        };
        let spec = sandbox_spec(
            ctx.agent_code,
            ctx.submission_dir,
            Some(&harness_dir),
            &agent_limits,
        );
        let args = [
            self.game.harness_name().to_string(),
            python_seed(ctx.seed).to_string(),
            self.simulations.to_string(),
            self.rounds.to_string(),
        ];
        let argv = python_argv(ctx.agent_code, &harness_dir.join("harness.py"), &args);
        let mut process = StrategyProcess::spawn(&spec, &argv, &self.limits)?;
        process.handshake().map_err(startup_error)?;
        let (seed, n, r) = (ctx.seed, self.simulations, self.rounds);
        let summary = match self.game {
            GameId::BattleOfSexes => {
                simulate::<BattleOfSexes>(&mut PythonPlayer::new(&mut process), seed, n, r)
            }
            GameId::PrisonersDilemma => {
                simulate::<PrisonersDilemma>(&mut PythonPlayer::new(&mut process), seed, n, r)
            }
            GameId::Blotto => simulate::<Blotto>(&mut PythonPlayer::new(&mut process), seed, n, r),
        };
        process.stop();
        summary
    }
}

impl Evaluator for GameEvaluator {
    fn evaluate(&self, ctx: &EvalContext<'_>) -> Result<Metrics, EvalError> {
        let s = self.run(ctx)?;
        Ok(Metrics::from([
            (SCORE.to_string(), s.score),
            (SCORE_STANDARD_ERROR.to_string(), s.standard_error),
        ]))
    }
}

/// The sandbox's unprivileged user must be able to pass through the scratch directory
/// to reach the harness beneath it (it cannot list it).
fn allow_traversal(dir: &std::path::Path) -> Result<(), EvalError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir)
        .map_err(|e| EvalError::io(format!("reading {}", dir.display()), e))?;
    let mode = meta.permissions().mode();
    if mode & 0o011 != 0o011 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o711))
            .map_err(|e| EvalError::io(format!("making {} traversable", dir.display()), e))?;
    }
    Ok(())
}

/// The agent's strategy, called through the harness.
struct PythonPlayer<'p, G> {
    process: &'p mut StrategyProcess,
    msg: Vec<u8>,
    game: PhantomData<G>,
}

impl<'p, G> PythonPlayer<'p, G> {
    fn new(process: &'p mut StrategyProcess) -> Self {
        PythonPlayer {
            process,
            msg: Vec::with_capacity(64),
            game: PhantomData,
        }
    }
}

impl<G: Game> RowPlayer<G> for PythonPlayer<'_, G> {
    fn play(&mut self, turn: Turn, history: &[(G::Move, G::Move)]) -> Result<G::Move, EvalError> {
        // Only the column's previous move travels: the harness keeps the history, and the
        // column's move for a round is not sent until the row's move for it arrived. A
        // first round needs no message (the harness runs MLGym's loop itself), so the
        // harness answers it right after the previous simulation's last round.
        let msg = match history.last() {
            None => None,
            Some((_, col)) => {
                self.msg.clear();
                G::write_move(col, &mut self.msg);
                self.msg.push(b'\n');
                Some(self.msg.as_slice())
            }
        };
        let line = self.process.call(msg).map_err(|f| call_error(turn, f))?;
        G::parse_move(line).ok_or_else(|| {
            let shown: String = String::from_utf8_lossy(line).chars().take(80).collect();
            EvalError::Format(format!(
                "{turn}: the strategy process answered `{shown}`, which is not a move (only the harness may write to the protocol)"
            ))
        })
    }
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn at(location: Option<String>) -> String {
    location.map(|l| format!(" ({l})")).unwrap_or_default()
}

fn startup_error(f: Failure) -> EvalError {
    EvalError::Format(match f {
        Failure::Timeout { limit, .. } => {
            format!(
                "strategy.py did not finish importing within {} (the start-up limit)",
                secs(limit)
            )
        }
        Failure::Ended(how) => {
            format!("the Python process running strategy.py stopped before it was imported: {how}")
        }
        Failure::Reported(r) if r.kind == "import" => {
            format!(
                "strategy.py could not be imported: {}{}",
                r.text,
                at(r.location)
            )
        }
        Failure::Reported(r) => r.text,
        Failure::Garbage(x) => format!(
            "the Python process running strategy.py wrote `{x}` instead of starting the protocol"
        ),
    })
}

fn call_error(turn: Turn, f: Failure) -> EvalError {
    EvalError::Format(match f {
        Failure::Timeout { limit, total: false } => format!(
            "{turn}: row_strategy did not return within {} (the per-call limit); the evaluation was stopped",
            secs(limit)
        ),
        Failure::Timeout { limit, total: true } => format!(
            "{turn}: the evaluation reached its total time limit of {}; row_strategy must be faster (it is called 100,000 times)",
            secs(limit)
        ),
        Failure::Ended(how) => format!("{turn}: the Python process running row_strategy stopped: {how}"),
        Failure::Reported(r) => match r.kind.as_str() {
            "raised" => format!("{turn}: row_strategy raised {}{}", r.text, at(r.location)),
            "invalid" => format!("{turn}: row_strategy returned {}", r.text),
            _ => format!("{turn}: {}", r.text),
        },
        Failure::Garbage(x) => format!(
            "{turn}: the strategy process answered `{x}`, which is not a move (only the harness may write to the protocol)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_seed_is_fixed_and_seed_dependent() {
        assert_eq!(python_seed(0), python_seed(0));
        assert_ne!(python_seed(0), python_seed(1));
    }

    #[test]
    fn errors_name_the_round_and_the_value() {
        let turn = Turn {
            simulation: 16,
            round: 2,
        };
        let r = super::super::protocol::Reported {
            kind: "invalid".into(),
            text: "2; moves must be 0 or 1".into(),
            location: None,
        };
        let e = call_error(turn, Failure::Reported(r)).to_string();
        assert_eq!(
            e,
            "round 3 of simulation 17: row_strategy returned 2; moves must be 0 or 1"
        );
        let e = call_error(
            turn,
            Failure::Timeout {
                limit: Duration::from_secs(1),
                total: false,
            },
        )
        .to_string();
        assert!(e.contains("within 1 s"), "{e}");
    }
}
