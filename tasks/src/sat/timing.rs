//! `Time`: CPU seconds of the solver process, calibrated against a reference workload.
//!
//! Raw CPU time of a Python process is inflated by whatever else runs on the machine
//! (cache and scheduler pressure), and a shared VM's speed drifts by 10–30% within
//! seconds: five evaluations of the same heuristic spread by 11–28% (max−min over
//! mean). The harness times a short fixed reference workload (the solver with a fixed
//! heuristic on two fixed formulas, ~18 ms) nine times before any submitted code runs,
//! and again after the first instance that ends [`CALIBRATION_PERIOD_S`] of solving
//! after the previous sample; each stretch of solving is scaled by `REFERENCE_CPU_S /
//! r`, where `r` is the mean of the reference samples just before, just after and after
//! the next stretch. Sampling often matters more than sampling long, provided the clock
//! is fine-grained: the harness reads its thread's CPU clock, because under the
//! sandbox's RLIMIT_CPU Linux reads the process clock in whole 4 ms ticks. With one
//! 90 ms sample a second on the process clock, five evaluations spread by 6–9%; with
//! an 18 ms sample every 0.1 s on the thread clock, by 1–3% at a load average of 4–5 (the
//! overhead is the same, ~10% of solving). `Time` is thus in "reference-machine CPU
//! seconds": other load and the machine's speed largely cancel.
//!
//! What is trusted: the total comes from the sandbox's own CPU accounting of the whole
//! process tree (not from the process), minus the CPU spent before submitted code ran
//! and on calibration. The samples taken after the heuristic is imported are measured
//! in-process, so their influence is bounded: the overall scale factor may differ from
//! the one of the trusted samples by at most [`MAX_DRIFT`], and the in-process account
//! of the run must match the sandbox's within [`ACCOUNT_TOLERANCE`].

use crate::evaluator::EvalError;

/// Solving CPU seconds after which the next instance's end is followed by a reference
/// sample.
pub const CALIBRATION_PERIOD_S: f64 = 0.1;

/// CPU seconds of the reference workload on the reference machine (2-vCPU AMD EPYC,
/// Python 3.11, under the typical load of a shared host: median of 2,580 samples over 5
/// runs 0.0174 s), so that `Time` there is close to raw CPU seconds.
pub const REFERENCE_CPU_S: f64 = 0.0174;

/// Largest factor by which the calibrated scale may differ from the one measured
/// before submitted code ran (beyond it, it is clamped).
pub const MAX_DRIFT: f64 = 1.5;

/// Largest relative (plus 0.25 s absolute) difference between the sandbox's CPU
/// accounting and the harness's own.
pub const ACCOUNT_TOLERANCE: f64 = 0.05;

/// What the harness reported about time.
#[derive(Clone, Debug, Default)]
pub struct TimingReport {
    /// CPU seconds of the process before submitted code ran (start-up, loading, the
    /// trusted reference samples).
    pub load_cpu: f64,
    /// The reference samples taken before submitted code ran.
    pub before: Vec<f64>,
    /// `(solving CPU seconds, reference sample taken after it)` per stretch.
    pub stretches: Vec<(f64, f64)>,
}

/// The median of the finite values (NaN when there are none).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Uncalibrated CPU seconds after loading, calibration excluded.
pub fn raw_time(process_cpu_s: f64, report: &TimingReport) -> f64 {
    let calibrating: f64 = report.stretches.iter().map(|s| s.1).sum();
    (process_cpu_s - report.load_cpu - calibrating).max(0.0)
}

/// Calibrated `Time` from the sandbox's CPU total (`process_cpu_s`, whole process tree)
/// and the harness's report.
pub fn calibrated_time(process_cpu_s: f64, report: &TimingReport) -> Result<f64, EvalError> {
    let trusted = median(&report.before);
    if trusted.is_nan() || trusted <= 0.0 || report.stretches.is_empty() {
        return Err(EvalError::Internal(format!(
            "3-SAT harness sent no usable timing reference ({report:?})"
        )));
    }
    let after_load = process_cpu_s - report.load_cpu;
    let solving: f64 = report.stretches.iter().map(|s| s.0).sum();
    let calibrating: f64 = report.stretches.iter().map(|s| s.1).sum();
    let accounted = solving + calibrating;
    if (after_load - accounted).abs() > ACCOUNT_TOLERANCE * after_load + 0.25 {
        return Err(EvalError::Format(format!(
            "the solver process used {after_load:.2} s of CPU after loading but its own clock accounts for \
             {accounted:.2} s: heuristic.py must not start processes or change the clocks"
        )));
    }
    // Each stretch uses the mean of the samples before and after it and the next one
    // (the first "before" is the trusted median): short samples are noisy one by one,
    // and the machine's speed changes little over three of them.
    let mut samples = vec![trusted];
    samples.extend(report.stretches.iter().map(|s| s.1));
    let mut weighted = 0.0;
    for (k, stretch) in report.stretches.iter().enumerate() {
        let around = &samples[k..(k + 3).min(samples.len())];
        let mean = around.iter().sum::<f64>() / around.len() as f64;
        weighted += stretch.0 * REFERENCE_CPU_S / mean;
    }
    let trusted_scale = REFERENCE_CPU_S / trusted;
    let scale = if solving > 0.0 {
        weighted / solving
    } else {
        trusted_scale
    };
    let scale = scale.clamp(trusted_scale / MAX_DRIFT, trusted_scale * MAX_DRIFT);
    Ok(raw_time(process_cpu_s, report) * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(before: f64, stretches: &[(f64, f64)]) -> TimingReport {
        TimingReport {
            load_cpu: 0.5,
            before: vec![before; 3],
            stretches: stretches.to_vec(),
        }
    }

    #[test]
    fn unloaded_reference_speed_leaves_cpu_time_unchanged() {
        let r = report(
            REFERENCE_CPU_S,
            &[(1.0, REFERENCE_CPU_S), (0.4, REFERENCE_CPU_S)],
        );
        let t = calibrated_time(0.5 + 1.4 + 2.0 * REFERENCE_CPU_S, &r).unwrap();
        assert!((t - 1.4).abs() < 1e-9, "{t}");
    }

    #[test]
    fn a_slow_stretch_is_scaled_back() {
        // The second second ran 20% slower (and so did the reference around it).
        let slow = REFERENCE_CPU_S * 1.2;
        let r = report(
            REFERENCE_CPU_S,
            &[(1.0, REFERENCE_CPU_S), (1.2, slow), (1.2, slow)],
        );
        let cpu = 0.5 + 3.4 + REFERENCE_CPU_S + 2.0 * slow;
        let t = calibrated_time(cpu, &r).unwrap();
        assert!((t - 3.0).abs() < 0.1, "{t}");
        // A machine twice as fast gives about the same Time.
        let fast = report(REFERENCE_CPU_S / 2.0, &[(0.7, REFERENCE_CPU_S / 2.0)]);
        let t = calibrated_time(0.5 + 0.7 + REFERENCE_CPU_S / 2.0, &fast).unwrap();
        assert!((t - 1.4).abs() < 1e-9, "{t}");
    }

    #[test]
    fn in_process_samples_have_bounded_influence() {
        // Reference samples after import claim a 10x slower machine: clamped to 1.5x.
        let r = report(
            REFERENCE_CPU_S,
            &[(2.0, 10.0 * REFERENCE_CPU_S), (2.0, 10.0 * REFERENCE_CPU_S)],
        );
        let t = calibrated_time(0.5 + 4.0 + 20.0 * REFERENCE_CPU_S, &r).unwrap();
        assert!((t - 4.0 / MAX_DRIFT).abs() < 0.05, "{t}");
    }

    #[test]
    fn an_account_that_does_not_match_the_sandbox_is_refused() {
        // The process claims 1 s of solving but the sandbox measured 5 s.
        let r = report(REFERENCE_CPU_S, &[(1.0, REFERENCE_CPU_S)]);
        let e = calibrated_time(5.5, &r).unwrap_err().to_string();
        assert!(e.contains("must not start processes"), "{e}");
        assert!(calibrated_time(5.5, &TimingReport::default()).is_err());
    }
}
