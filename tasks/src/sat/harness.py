"""Evaluation harness of the 3SATTime task (evaluator-owned; runs inside the sandbox).

Usage: python -B harness.py INSTANCES.jsonl HEURISTIC.py SEED PER_INSTANCE_CPU_S
                            REFERENCE.json CALIBRATION_PERIOD_S

Runs the pristine solver.py (next to this file) with the submitted heuristic_fn on
every instance, in order, and reports one JSON object per line on the process's
original standard output:

  {"event":"loaded","instances":N,"load_cpu":S,"reference":[R,...]}
  {"event":"result","i":I,"sat":B,"decisions":D,"cpu":S,"model":"01-..."}
  {"event":"calibration","solve_cpu":S,"reference":R}
  {"event":"error","i":I_or_null,"kind":K,"message":M}   then exit status 3
  {"event":"done"}

`load_cpu` is this process's CPU time before any submitted code ran; the evaluator
subtracts it from the sandbox's CPU accounting, so the heuristic's import counts.

Calibration: a short fixed reference workload (a private copy of the solver with a fixed
heuristic on two fixed formulas, ~18 ms) is timed TRUSTED_SAMPLES times before the
heuristic is imported, then again after the first instance that ends at least
CALIBRATION_PERIOD_S of solving CPU after the previous sample. `solve_cpu` is the CPU
spent since the previous sample; the evaluator scales each stretch by how slow the
reference ran around it, which cancels most of the effect of other processes
competing for the machine (and of the machine's speed, which drifts within seconds on
shared hosts: hence short, frequent samples).

`model` has one character per variable: 1 true, 0 false, - unassigned. Verdicts and
models are checked natively by the evaluator; nothing here is trusted for correctness.
File descriptor 1 is pointed at standard error before the heuristic is imported, so
its prints (Python or C level) cannot mix with the protocol.
"""

import importlib.util
import json
import os
import random
import signal
import sys
import threading
import time
import traceback


# Reference samples taken before submitted code runs (their median is trusted).
TRUSTED_SAMPLES = 9


class InstanceTimeout(BaseException):
    """Raised by the CPU timer. A BaseException, so `except Exception` in a heuristic
    does not swallow it."""


def reference_heuristic(clauses, assignments, conflict_count, assignment_history, level):
    """The calibration workload's heuristic: the smallest unassigned variable, True."""
    best = None
    for clause in clauses:
        for lit in clause:
            var = abs(lit)
            if var not in assignments and (best is None or var < best):
                best = var
    return best, True


def main():
    instances_path, heuristic_path = sys.argv[1], sys.argv[2]
    seed, limit = int(sys.argv[3]), float(sys.argv[4])
    reference_path, period = sys.argv[5], float(sys.argv[6])
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # The thread's CPU clock, not the process's: the sandbox sets RLIMIT_CPU, and while a
    # process-wide CPU limit or timer is armed Linux reads the process clock in whole
    # ticks (4 ms here), which swamped the short reference samples. Heuristics must
    # stay on this thread anyway, and the sandbox's own account covers the whole tree.
    clock = time.thread_time

    def emit(obj):
        channel.write(json.dumps(obj, separators=(",", ":")) + "\n")
        channel.flush()

    def fail(index, kind, message):
        emit({"event": "error", "i": index, "kind": kind, "message": message})
        sys.stderr.flush()
        os._exit(3)

    with open(instances_path) as handle:
        instances = [json.loads(line) for line in handle]
    with open(reference_path) as handle:
        reference_formulas = json.load(handle)
    import solver  # the pristine copy next to this file (sys.path[0])

    # A private copy, so that nothing done to `solver` changes the reference workload.
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("_reference_solver", os.path.join(here, "solver.py"))
    reference_solver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference_solver)
    expected_decisions = []

    def reference():
        # Two formulas rather than one: the speed of a single small workload
        # depends on where its data happens to lie in memory, which differs per process.
        start = clock()
        decisions = 0
        for formula in reference_formulas:
            dpll = reference_solver.DPLL(formula["clauses"], reference_heuristic, formula["num_vars"])
            dpll.solve()
            decisions += dpll.num_decisions
        spent = clock() - start
        # The workload is deterministic: any other count means it was interfered with.
        if not expected_decisions:
            expected_decisions.append(decisions)
        elif decisions != expected_decisions[0]:
            fail(None, "calibration", "the timing reference was disturbed (heuristic.py must not modify "
                 "the evaluation's code)")
        if threading.active_count() != 1 or native_threads() > 1:
            fail(None, "threads", "heuristic.py started threads; Time measures a single thread, so "
                 "heuristics must not start threads")
        return spent

    before = [reference() for _ in range(TRUSTED_SAMPLES)]
    emit({"event": "loaded", "instances": len(instances), "load_cpu": clock(), "reference": before})

    stretch_start = clock()
    try:
        spec = importlib.util.spec_from_file_location("heuristic", heuristic_path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["heuristic"] = module
        spec.loader.exec_module(module)
    except BaseException as error:  # SyntaxError, ImportError, SystemExit, ...
        fail(None, "import", f"importing heuristic.py failed: {describe(error, heuristic_path)}")
    heuristic_fn = getattr(module, "heuristic_fn", None)
    if not callable(heuristic_fn):
        fail(None, "import", "heuristic.py defines no function heuristic_fn(clauses, assignments, "
             "conflict_count, assignment_history, level)")

    armed = [False]

    def on_timer(signum, frame):
        if armed[0]:
            raise InstanceTimeout()

    def calibrate():
        solve_cpu = clock() - stretch_start
        emit({"event": "calibration", "solve_cpu": solve_cpu, "reference": reference()})
        return clock()

    signal.signal(signal.SIGPROF, on_timer)
    for index, instance in enumerate(instances):
        # Heuristics that draw from the global generators get the same stream on every
        # run (the starter reseeds itself on every call anyway).
        instance_seed = (seed + index) % 2**32
        random.seed(instance_seed)
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            numpy.random.seed(instance_seed)
        dpll = None
        start = clock()
        try:
            armed[0] = True
            # Re-fires every second after the limit, in case a heuristic swallowed it.
            signal.setitimer(signal.ITIMER_PROF, limit, 1.0)
            dpll = solver.DPLL(instance["clauses"], heuristic_fn, instance["num_vars"])
            sat = dpll.solve()
            armed[0] = False
        except InstanceTimeout:
            armed[0] = False
            decisions = dpll.num_decisions if dpll is not None else 0
            fail(index, "timeout", f"exceeded the per-instance CPU limit of {limit:g} s "
                 f"(after {decisions} decision(s)); make heuristic_fn faster or smarter")
        except solver.HeuristicError as error:
            armed[0] = False
            where = location(error.__cause__, heuristic_path)
            fail(index, "heuristic", f"{error}{where}")
        except BaseException as error:
            armed[0] = False
            fail(index, "crash", f"the solver stopped with {describe(error, heuristic_path)}")
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        cpu = clock() - start
        values = dpll.assignments
        model = "".join(
            "-" if v not in values else ("1" if values[v] else "0") for v in range(1, dpll.num_vars + 1)
        ) if sat else ""
        emit({"event": "result", "i": index, "sat": bool(sat), "decisions": dpll.num_decisions,
              "cpu": round(cpu, 6), "model": model})
        if clock() - stretch_start >= period:
            stretch_start = calibrate()
    calibrate()
    emit({"event": "done"})
    sys.stderr.flush()
    # Skip interpreter teardown: its cost is noise, not solving time.
    os._exit(0)


def native_threads():
    """Threads of this process, including ones started from C (1 when unknown)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def location(error, heuristic_path):
    """` (at heuristic.py line N: code)` for the innermost frame of the heuristic in
    the traceback of `error`, or an empty string."""
    if error is None:
        return ""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == heuristic_path]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at heuristic.py line {frame.lineno}: {(frame.line or '').strip()})"


def describe(error, heuristic_path):
    # The host path of the evaluated copy means nothing to the agent.
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    text = text.replace(f'File "{heuristic_path}"', "heuristic.py")
    return f"{text}{location(error, heuristic_path)}"


if __name__ == "__main__":
    main()
