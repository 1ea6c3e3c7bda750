//! The vectorised environments: same results as the single-env rules, whatever the number
//! of threads, with gymnax's auto-reset, and without allocating per step.

// Test helpers outside #[test] functions panic on purpose too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mlgym_tasks::rl::{
    Actions, AnyVecEnv, Breakout, BreakoutParams, Env, EnvId, MetaMaze, MetaMazeParams,
    MountainCar, MountainCarParams, Parallelism, SoaEnv, VecEnv, VecEnvError,
};
use mlgym_tasks::rng::Rng;

/// Counts the allocations made by the current thread (tests run on several threads).
struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

/// Random actions for `n` envs at step `t`, the same for every caller.
trait RandomAction: Env {
    fn random_action(rng: &mut Rng) -> Self::Action;
}
impl RandomAction for MetaMaze {
    fn random_action(rng: &mut Rng) -> i32 {
        rng.below(4) as i32
    }
}
impl RandomAction for Breakout {
    fn random_action(rng: &mut Rng) -> i32 {
        rng.below(3) as i32
    }
}
impl RandomAction for MountainCar {
    fn random_action(rng: &mut Rng) -> f32 {
        // Mostly pushing with the velocity so that some episodes reach the goal.
        (rng.next_f32() * 3.0 - 1.5).abs()
    }
}

fn action_table<E: RandomAction>(n: usize, steps: usize) -> Vec<Vec<E::Action>> {
    let mut rng = Rng::new(99);
    (0..steps)
        .map(|_| (0..n).map(|_| E::random_action(&mut rng)).collect())
        .collect()
}

/// Steps a VecEnv and, alongside, each environment alone with the scalar rules and its own
/// stream; everything must agree bit for bit.
fn vec_matches_scalar<E: SoaEnv + RandomAction>(params: E::Params, n: usize, steps: usize) {
    let seed = 1234;
    let mut v = VecEnv::<E>::new(params.clone(), n, seed);
    v.set_record_final_obs(true);
    let mut rngs: Vec<Rng> = (0..n as u64).map(|i| Rng::stream(seed, i)).collect();
    let mut states: Vec<E::State> = rngs.iter_mut().map(|r| E::reset(&params, r)).collect();
    let actions = action_table::<E>(n, steps);
    let mut dones = 0;
    for acts in &actions {
        v.step(acts).unwrap();
        for i in 0..n {
            let rng = &mut rngs[i];
            let mut pre = states[i].clone();
            let tr = E::step(&params, &mut pre, acts[i], rng);
            let mut s = pre.clone();
            if tr.done() {
                s = E::reset(&params, rng);
                dones += 1;
                assert_eq!(
                    v.final_obs_row(i).unwrap(),
                    E::obs(&params, &pre).as_slice()
                );
            }
            assert_eq!(v.rewards()[i].to_bits(), tr.reward.to_bits());
            assert_eq!(v.terminated()[i], tr.terminated);
            assert_eq!(v.truncated()[i], tr.truncated);
            assert_eq!(v.state(i), s);
            assert_eq!(v.obs_row(i), E::obs(&params, &s).as_slice(), "env {i}");
            states[i] = s;
        }
    }
    assert!(
        dones > 0,
        "{}: no episode ended; the test would miss auto-reset",
        E::ID
    );
}

#[test]
fn meta_maze_vec_env_matches_the_scalar_rules() {
    // 250 steps pass the 200-step limit, so every env truncates and auto-resets once.
    vec_matches_scalar::<MetaMaze>(MetaMazeParams::default(), 37, 250);
}

#[test]
fn mountain_car_vec_env_matches_the_scalar_rules() {
    let params = MountainCarParams {
        max_steps_in_episode: 120,
        ..MountainCarParams::default()
    };
    vec_matches_scalar::<MountainCar>(params, 29, 300);
}

#[test]
fn breakout_vec_env_matches_the_scalar_rules() {
    vec_matches_scalar::<Breakout>(BreakoutParams::default(), 41, 200);
}

/// Runs `steps` steps and returns everything observable.
fn rollout<E: SoaEnv + RandomAction>(
    n: usize,
    seed: u64,
    p: Parallelism,
) -> (Vec<f32>, Vec<u32>, Vec<bool>, Vec<bool>) {
    let mut v = VecEnv::<E>::new(E::Params::default(), n, seed);
    v.set_parallelism(p);
    let mut obs = Vec::new();
    let mut rew = Vec::new();
    let mut term = Vec::new();
    let mut trunc = Vec::new();
    for acts in action_table::<E>(n, 60) {
        v.step(&acts).unwrap();
        rew.extend(v.rewards().iter().map(|r| r.to_bits()));
        term.extend_from_slice(v.terminated());
        trunc.extend_from_slice(v.truncated());
    }
    obs.extend_from_slice(v.obs());
    (obs, rew, term, trunc)
}

fn thread_independent<E: SoaEnv + RandomAction>() {
    let n = 1000;
    let serial = rollout::<E>(n, 5, Parallelism::Serial);
    assert_eq!(
        serial,
        rollout::<E>(n, 5, Parallelism::Grain(7)),
        "{}",
        E::ID
    );
    assert_eq!(
        serial,
        rollout::<E>(n, 5, Parallelism::Grain(128)),
        "{}",
        E::ID
    );
    assert_eq!(serial, rollout::<E>(n, 5, Parallelism::Auto), "{}", E::ID);
    assert_ne!(serial, rollout::<E>(n, 6, Parallelism::Serial), "{}", E::ID);
}

#[test]
fn results_do_not_depend_on_threads_and_depend_on_the_seed() {
    thread_independent::<MetaMaze>();
    thread_independent::<MountainCar>();
    thread_independent::<Breakout>();
}

#[test]
fn a_serial_step_allocates_nothing() {
    fn check<E: SoaEnv + RandomAction>() {
        let mut v = VecEnv::<E>::new(E::Params::default(), 64, 3);
        v.set_parallelism(Parallelism::Serial);
        v.set_record_final_obs(true);
        let table = action_table::<E>(64, 300);
        let before = allocs();
        for acts in &table {
            v.step(acts).unwrap();
        }
        assert_eq!(allocs() - before, 0, "{}", E::ID);
    }
    check::<MetaMaze>();
    check::<MountainCar>();
    check::<Breakout>();
}

#[test]
fn wrong_batches_are_rejected_with_a_useful_error() {
    let mut v = VecEnv::<MetaMaze>::new(MetaMazeParams::default(), 4, 0);
    let err = v.step(&[0, 1, 2]).unwrap_err();
    assert_eq!(
        err,
        VecEnvError::ActionCount {
            env: EnvId::MetaMaze,
            expected: 4,
            got: 3
        }
    );
    assert!(err.to_string().contains("exactly one per env"));
    let mut any = AnyVecEnv::new(EnvId::MountainCarContinuous, 2, 0);
    let err = any.step(Actions::Discrete(&[0, 1])).unwrap_err();
    assert!(err.to_string().contains("Actions::Continuous"), "{err}");
    let mut any = AnyVecEnv::new(EnvId::Breakout, 2, 0);
    assert!(any.step(Actions::Continuous(&[0.0, 1.0])).is_err());
    any.step(Actions::Discrete(&[0, 2])).unwrap();
}

#[test]
fn any_vec_env_reports_shapes_and_steps() {
    for (id, dim) in [
        (EnvId::MetaMaze, 15),
        (EnvId::MountainCarContinuous, 2),
        (EnvId::Breakout, 400),
    ] {
        let mut e = AnyVecEnv::new(id, 8, 1);
        assert_eq!((e.id(), e.num_envs(), e.obs_dim()), (id, 8, dim));
        assert_eq!(e.obs().len(), 8 * dim);
        let before = e.obs().to_vec();
        match id {
            EnvId::MountainCarContinuous => e.step(Actions::Continuous(&[1.0; 8])).unwrap(),
            _ => e.step(Actions::Discrete(&[1; 8])).unwrap(),
        }
        assert_ne!(e.obs(), before.as_slice(), "{id}");
        assert_eq!(e.rewards().len(), 8);
        e.reset(1);
        assert_eq!(e.obs(), before.as_slice(), "{id}: reset with the same seed");
    }
}

#[test]
fn resets_draw_from_each_envs_own_stream() {
    // Goals of a MetaMaze batch: env i's goal is the first draw of Rng::stream(seed, i).
    let v = VecEnv::<MetaMaze>::new(MetaMazeParams::default(), 100, 42);
    let mut goals = std::collections::HashSet::new();
    for i in 0..100 {
        let want = MetaMaze::reset(&MetaMazeParams::default(), &mut Rng::stream(42, i as u64));
        assert_eq!(v.state(i), want);
        goals.insert((want.goal_y, want.goal_x));
    }
    assert!(goals.len() > 30, "goals should be spread over the maze");
}

#[test]
fn set_state_rewrites_the_observation_row() {
    let mut v = VecEnv::<Breakout>::new(BreakoutParams::default(), 3, 0);
    let mut s = v.state(1);
    s.pos = 0;
    s.brick_map = 0;
    v.set_state(1, &s);
    assert_eq!(
        v.obs_row(1),
        Breakout::obs(&BreakoutParams::default(), &s).as_slice()
    );
    // The incremental update continues correctly from the new row.
    v.step(&[0, 2, 1]).unwrap();
    let s1 = v.state(1);
    assert_eq!(
        v.obs_row(1),
        Breakout::obs(&BreakoutParams::default(), &s1).as_slice()
    );
}
