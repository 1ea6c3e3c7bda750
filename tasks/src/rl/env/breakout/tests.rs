//! Rules of Breakout that random play rarely reaches, one situation per test.

use super::*;

fn params() -> BreakoutParams {
    BreakoutParams::default()
}

/// A state with the ball at `(y, x)` moving in `dir`, the paddle at `pos`, and `bricks`.
fn ball(y: i32, x: i32, dir: i32, pos: i32, bricks: u128) -> BreakoutState {
    BreakoutState {
        ball_y: y,
        ball_x: x,
        ball_dir: dir,
        pos,
        brick_map: bricks,
        strike: false,
        last_y: y,
        last_x: x,
        time: 0,
        terminal: false,
    }
}

fn step(s: &mut BreakoutState, action: i32) -> Transition {
    Breakout::step_with(&params(), s, action, || ())
}

#[test]
fn reset_puts_the_ball_on_a_top_corner_brick_row() {
    let s = Breakout::reset_from_draw(&params(), 0);
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir, s.pos), (3, 0, 2, 4));
    assert_eq!((s.last_y, s.last_x), (3, 0));
    assert_eq!(Breakout::bricks_left(&s), 30);
    assert!(Breakout::brick_at(&s, 3, 0) && !Breakout::brick_at(&s, 4, 0));
    let s = Breakout::reset_from_draw(&params(), 1);
    assert_eq!((s.ball_x, s.ball_dir), (9, 3));
}

#[test]
fn paddle_moves_and_stops_at_the_edges() {
    let mut s = ball(5, 5, 2, 0, 0);
    step(&mut s, 1);
    assert_eq!(s.pos, 0);
    step(&mut s, 2);
    assert_eq!(s.pos, 1);
    step(&mut s, 0);
    assert_eq!(s.pos, 1);
    let mut s = ball(5, 5, 2, 9, 0);
    step(&mut s, 2);
    assert_eq!(s.pos, 9);
}

#[test]
fn ball_bounces_off_a_side_wall() {
    let mut s = ball(5, 9, 1, 0, 0);
    let tr = step(&mut s, 0);
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir), (4, 9, 0));
    assert_eq!((s.last_y, s.last_x), (5, 9));
    assert_eq!(
        tr,
        Transition {
            reward: 0.0,
            terminated: false,
            truncated: false
        }
    );
    let mut s = ball(5, 0, 3, 0, 0);
    step(&mut s, 0);
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir), (6, 0, 2));
}

#[test]
fn ball_bounces_off_the_ceiling() {
    let mut s = ball(0, 5, 0, 0, 0);
    step(&mut s, 0);
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir), (0, 4, 3));
    // In a corner both flips apply: up-left becomes down-right.
    let mut s = ball(0, 0, 0, 0, 0);
    step(&mut s, 0);
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir), (0, 0, 2));
}

#[test]
fn hitting_a_brick_breaks_it_and_reflects_the_ball() {
    let mut s = ball(4, 5, 1, 0, FULL_BRICKS);
    let tr = step(&mut s, 0);
    assert_eq!(tr.reward, 1.0);
    assert!(!Breakout::brick_at(&s, 3, 6));
    assert_eq!(Breakout::bricks_left(&s), 29);
    // The ball keeps its row and turns down.
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir), (4, 6, 2));
    assert!(s.strike);
    // The next step leaves the brick area: strike clears.
    step(&mut s, 0);
    assert!(!s.strike);
}

#[test]
fn a_ball_already_striking_enters_a_brick_without_breaking_it() {
    let mut s = BreakoutState {
        strike: true,
        ..ball(4, 5, 1, 0, FULL_BRICKS)
    };
    let tr = step(&mut s, 0);
    assert_eq!(tr.reward, 0.0);
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir), (3, 6, 1));
    assert!(Breakout::brick_at(&s, 3, 6) && s.strike);
    // From inside the brick the ball meets the next row: strike is still set, no break.
    let tr = step(&mut s, 0);
    assert_eq!(tr.reward, 0.0);
    assert_eq!((s.ball_y, s.ball_x), (2, 7));
}

#[test]
fn side_wall_then_brick_flips_both_ways() {
    let mut s = ball(4, 9, 1, 0, FULL_BRICKS);
    let tr = step(&mut s, 0);
    assert_eq!(tr.reward, 1.0);
    assert!(!Breakout::brick_at(&s, 3, 9));
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir), (4, 9, 3));
}

#[test]
fn paddle_under_the_ball_sends_it_straight_back_up() {
    // Old ball column 4 equals the paddle column after the (no-op) move.
    let mut s = ball(8, 4, 2, 4, FULL_BRICKS);
    let tr = step(&mut s, 0);
    assert!(!tr.terminated);
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir), (8, 5, 1));
    // The paddle's move counts: moving under the ball in the same step saves it.
    let mut s = ball(8, 4, 3, 5, FULL_BRICKS);
    let tr = step(&mut s, 1);
    assert!(!tr.terminated);
    assert_eq!((s.pos, s.ball_y, s.ball_x, s.ball_dir), (4, 8, 3, 0));
}

#[test]
fn paddle_at_the_landing_cell_reverses_the_ball() {
    let mut s = ball(8, 4, 2, 5, FULL_BRICKS);
    let tr = step(&mut s, 0);
    assert!(!tr.terminated);
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir), (8, 5, 0));
}

#[test]
fn missing_the_ball_terminates() {
    let mut s = ball(8, 4, 2, 0, FULL_BRICKS);
    let tr = step(&mut s, 0);
    assert_eq!(
        tr,
        Transition {
            reward: 0.0,
            terminated: true,
            truncated: false
        }
    );
    assert!(s.terminal);
    assert_eq!((s.ball_y, s.ball_x), (9, 5));
    let obs = Breakout::obs(&params(), &s);
    assert_eq!(obs[(9 * 10 + 5) * 4 + CH_BALL], 1.0);
}

#[test]
fn bricks_respawn_when_the_cleared_board_meets_the_paddle_row() {
    let mut s = ball(8, 4, 2, 4, 0);
    step(&mut s, 0);
    assert_eq!(s.brick_map, FULL_BRICKS);
    // They respawn even when the ball is then missed.
    let mut s = ball(8, 4, 2, 0, 0);
    let tr = step(&mut s, 0);
    assert!(tr.terminated);
    assert_eq!(s.brick_map, FULL_BRICKS);
    // But not while the ball is elsewhere.
    let mut s = ball(5, 4, 2, 0, 0);
    step(&mut s, 0);
    assert_eq!(s.brick_map, 0);
}

#[test]
fn breaking_the_last_brick_then_returning_respawns_the_wall() {
    let last = bit(1, 5);
    let mut s = ball(2, 4, 1, 0, last);
    let tr = step(&mut s, 0);
    assert_eq!(tr.reward, 1.0);
    assert_eq!(s.brick_map, 0);
    // From (2,5) going down-right the ball bounces off the right wall and reaches row 8
    // after six steps, then the paddle row on the seventh.
    for _ in 0..6 {
        step(&mut s, 0);
        assert_eq!(s.brick_map, 0);
    }
    assert_eq!((s.ball_y, s.ball_x, s.ball_dir), (8, 8, 3));
    s.pos = 8;
    step(&mut s, 0);
    assert_eq!(s.brick_map, FULL_BRICKS);
}

#[test]
fn time_limit_truncates_at_1000_and_terminal_stays_natural() {
    let mut s = BreakoutState {
        time: 999,
        ..ball(5, 5, 2, 0, FULL_BRICKS)
    };
    let tr = step(&mut s, 0);
    assert!(tr.truncated && !tr.terminated && !s.terminal);
}

#[test]
fn obs_has_the_documented_layout() {
    let s = ball(3, 0, 2, 4, FULL_BRICKS);
    let s = BreakoutState {
        last_y: 2,
        last_x: 1,
        ..s
    };
    let obs = Breakout::obs(&params(), &s);
    assert_eq!(obs.len(), 400);
    assert_eq!(obs[(9 * 10 + 4) * 4 + CH_PADDLE], 1.0);
    assert_eq!(obs[(3 * 10) * 4 + CH_BALL], 1.0);
    assert_eq!(obs[(2 * 10 + 1) * 4 + CH_TRAIL], 1.0);
    assert_eq!(obs.iter().sum::<f32>(), 3.0 + 30.0);
    for y in 0..10 {
        for x in 0..10 {
            let want = f32::from(u8::from((1..=3).contains(&y)));
            assert_eq!(obs[(y * 10 + x) * 4 + CH_BRICK], want);
        }
    }
}

#[test]
fn incremental_obs_matches_a_full_redraw() {
    let p = params();
    let mut rng = Rng::new(11);
    let mut s = Breakout::reset(&p, &mut rng);
    let mut obs = Breakout::obs(&p, &s);
    let mut steps_with_hits = 0;
    for _ in 0..20_000 {
        let old = s;
        // Track the ball most of the time so that episodes last and bricks change.
        let a = if rng.below(4) == 0 {
            rng.below(3) as i32
        } else if s.pos < s.ball_x {
            2
        } else if s.pos > s.ball_x {
            1
        } else {
            0
        };
        let tr = Breakout::step(&p, &mut s, a, &mut rng);
        steps_with_hits += usize::from(tr.reward > 0.0);
        if tr.done() {
            s = Breakout::reset(&p, &mut rng);
            Breakout::write_obs(&p, &s, &mut obs);
        } else {
            Breakout::update_obs(&p, &old, &s, &mut obs);
        }
        assert_eq!(obs, Breakout::obs(&p, &s));
    }
    assert!(steps_with_hits > 100);
}

#[test]
fn out_of_range_actions_follow_jax_indexing() {
    let mut a = ball(5, 5, 2, 5, 0);
    let mut b = a;
    step(&mut a, 7);
    step(&mut b, 2);
    assert_eq!(a, b);
    let mut a = ball(5, 5, 2, 5, 0);
    let mut b = a;
    step(&mut a, -2);
    step(&mut b, 1);
    assert_eq!(a, b);
}
