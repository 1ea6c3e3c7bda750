"""Runs an agent's `row_strategy` for mlgym's game-theory evaluator.

One process per evaluation, started by the evaluator inside a fresh sandbox:

    python -B harness.py GAME SEED SIMULATIONS ROUNDS        (GAME: bos, pd or blotto)

The opponent, the payoffs and the score live in the evaluator (Rust), never here: this
process only calls `row_strategy(history)` in MLGym's order (simulation after simulation,
round after round) and reports each move. The line protocol (ASCII, one message per line;
described in `tasks/src/games/mod.rs`):

    harness   -> evaluator   "R"                         strategy imported, ready
    harness   -> evaluator   "1" or "20 20 20 20 20 20"  the row's move, for every call
    evaluator -> harness     "0" or "0 25 20 30 25 20"   the column's move in the previous
                                                         round (rounds 2.. of a simulation)
    harness   -> evaluator   "E {json}"                  an error (then this process exits)

The first round of a simulation needs no message: its history is empty.

The strategy's prints are discarded (stdout and stderr point to /dev/null) so that they
cannot corrupt the protocol, which runs on private copies of the original descriptors.
"""

import os
import sys


class _Invalid(Exception):
    """A value returned by row_strategy that is not a legal move."""


def _show(v, limit=80):
    """repr(v), shortened, with its type when the repr does not make it obvious."""
    try:
        r = repr(v)
    except BaseException:
        r = "<unprintable>"
    if len(r) > limit:
        r = r[: limit - 3] + "..."
    t = type(v)
    if t in (int, list, tuple):
        return r
    return "%s (%s)" % (r, t.__module__ + "." + t.__qualname__ if t.__module__ != "builtins" else t.__qualname__)


def _binary_move(v):
    """0 or 1 from anything MLGym accepts as such (`v in [0, 1]`): ints, bools, NumPy
    numbers and floats equal to 0 or 1. Recorded as a plain int."""
    import numbers

    if isinstance(v, numbers.Real) or hasattr(type(v), "__index__"):
        try:
            if v == 0:
                return 0
            if v == 1:
                return 1
        except BaseException:
            pass
    raise _Invalid("%s; moves must be 0 or 1" % _show(v))


def _allocation(v):
    """A Blotto allocation checked like MLGym checks it (every entry `isinstance(x, int)`,
    so bools pass and NumPy integers do not; non-negative; at most 120 in total) plus
    exactly 6 entries, which MLGym does not check."""
    if not isinstance(v, (list, tuple)):
        raise _Invalid("%s; an allocation must be a list of 6 ints" % _show(v))
    if len(v) != 6:
        raise _Invalid("%s, a list of %d entries; an allocation has exactly 6, one per battlefield" % (_show(v), len(v)))
    total = 0
    for i, x in enumerate(v):
        if not isinstance(x, int):
            raise _Invalid(
                "%s, whose entry at index %d is %s; soldiers must be Python ints (convert NumPy numbers with int())"
                % (_show(v), i, _show(x))
            )
        if x < 0:
            raise _Invalid("%s, whose entry at index %d is %d; soldiers must be non-negative" % (_show(v), i, x))
        total += x
    if total > 120:
        raise _Invalid("%s, which uses %d soldiers; at most 120 are available" % (_show(v), total))
    return [int(x) for x in v]


def _where(tb, root):
    """'strategy.py, line 12, in row_strategy' for the innermost frame in the submission."""
    import traceback

    found = None
    for fr in traceback.extract_tb(tb):
        path = os.path.realpath(fr.filename)
        if path.startswith(root + os.sep):
            found = "%s, line %s, in %s" % (os.path.relpath(path, root), fr.lineno, fr.name)
    return found


def _describe(e, root):
    """(one-line exception text, location) for an exception raised by submission code."""
    import traceback

    if isinstance(e, SyntaxError) and e.filename:
        path = os.path.realpath(e.filename)
        name = os.path.relpath(path, root) if path.startswith(root + os.sep) else os.path.basename(path)
        where = "%s, line %s" % (name, e.lineno)
        if e.text and e.text.strip():
            where += ": `%s`" % e.text.strip()[:120]
        return "%s: %s" % (type(e).__name__, e.msg), where
    text = traceback.format_exception_only(type(e), e)[-1].strip()
    if len(text) > 300:
        text = text[:297] + "..."
    return text, _where(e.__traceback__, root)


def _report(out, kind, text, where=None):
    import json

    msg = {"kind": kind, "text": text}
    if where:
        msg["where"] = where
    os.write(out, b"E " + json.dumps(msg).encode("utf-8", "replace") + b"\n")


def _complete(read, msg):
    """`msg` read on to the end of its line; b'' at end of input. (The evaluator writes
    each message with one write and waits for the answer, so this loop rarely runs.)"""
    while msg[-1:] != b"\n":
        if not msg:
            return b""
        more = read()
        if not more:
            return b""
        msg += more
    return msg


def _reader(pin):
    """A read of the next message (one whole line; b'' at end of input) from `pin` that
    first polls without sleeping for a short, adaptive time and only then blocks. A
    blocked process takes tens of microseconds to wake on a virtual machine, which over
    90,000 round trips dominated the evaluation; the spin budget halves whenever the
    evaluator is slower than it, so a busy machine loses at most a few microseconds per
    call."""
    import select
    import time

    os.set_blocking(pin, False)
    read, clock, wait = os.read, time.perf_counter, select.select
    budget = [50e-6]

    def next_chunk():
        try:
            return read(pin, 256)
        except BlockingIOError:
            pass
        end = clock() + budget[0]
        while clock() < end:
            try:
                msg = read(pin, 256)
            except BlockingIOError:
                continue
            budget[0] = min(budget[0] * 2, 200e-6)
            return msg
        budget[0] = max(budget[0] / 2, 4e-6)
        while True:
            wait([pin], [], [])
            try:
                return read(pin, 256)
            except BlockingIOError:
                continue

    def next_message():
        msg = next_chunk()
        if msg[-1:] != b"\n":
            msg = _complete(next_chunk, msg)
        return msg

    return next_message


def _play_binary(fn, pin, pout, root, simulations, rounds):
    # Hot loop of Battle of the Sexes and the Prisoner's Dilemma: one message per call
    # after the first round of each simulation, a few bytes each way.
    read, write = _reader(pin), os.write
    answer = (b"0\n", b"1\n")
    last = 0
    for _ in range(simulations):
        history = []
        for r in range(rounds):
            if r:
                msg = read()
                c = msg[:1]
                if c == b"0":
                    history.append((last, 0))
                elif c == b"1":
                    history.append((last, 1))
                else:
                    return
            try:
                v = fn(history[:])
            except BaseException as e:
                _report(pout, "raised", *_describe(e, root))
                return
            if v.__class__ is not int or (v != 0 and v != 1):
                try:
                    v = _binary_move(v)
                except _Invalid as e:
                    _report(pout, "invalid", str(e))
                    return
            last = v
            write(pout, answer[v])


def _play_blotto(fn, pin, pout, root, simulations, rounds):
    read, write = _reader(pin), os.write
    last = None
    for _ in range(simulations):
        history = []
        for r in range(rounds):
            if r:
                msg = read()
                if not msg[:1].isdigit():
                    return
                history.append((last, list(map(int, msg.split()))))
            try:
                v = fn(history[:])
            except BaseException as e:
                _report(pout, "raised", *_describe(e, root))
                return
            # Fast path for the common case: a list of 6 plain ints.
            if v.__class__ is list and len(v) == 6:
                x0, x1, x2, x3, x4, x5 = v
                if (
                    x0.__class__ is int
                    and x1.__class__ is int
                    and x2.__class__ is int
                    and x3.__class__ is int
                    and x4.__class__ is int
                    and x5.__class__ is int
                    and x0 >= 0
                    and x1 >= 0
                    and x2 >= 0
                    and x3 >= 0
                    and x4 >= 0
                    and x5 >= 0
                    and x0 + x1 + x2 + x3 + x4 + x5 <= 120
                ):
                    last = [x0, x1, x2, x3, x4, x5]
                    write(pout, b"%d %d %d %d %d %d\n" % (x0, x1, x2, x3, x4, x5))
                    continue
            try:
                last = _allocation(v)
            except _Invalid as e:
                _report(pout, "invalid", str(e))
                return
            write(pout, b"%d %d %d %d %d %d\n" % tuple(last))


def main():
    game, seed, simulations, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    # The protocol moves to private descriptors; the strategy's stdin reads nothing and
    # its output goes nowhere (fd 2 stays for the interpreter's own fatal errors).
    pin, pout = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    sys.stderr = sys.stdout
    root = os.path.realpath(os.getcwd())
    # The submission comes first on the path, as the workspace does for MLGym's
    # evaluate.py; the harness's own directory is not importable.
    sys.path[0] = root

    import random

    random.seed(seed)
    try:
        import importlib

        module = importlib.import_module("strategy")
    except BaseException as e:
        _report(pout, "import", *_describe(e, root))
        return
    fn = getattr(module, "row_strategy", None)
    if not callable(fn):
        _report(pout, "missing", "strategy.py does not define a function row_strategy(history)")
        return
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.random.seed(seed % (1 << 32))
        except BaseException:
            pass
    os.write(pout, b"R\n")
    play = _play_blotto if game == "blotto" else _play_binary
    play(fn, pin, pout, root, simulations, rounds)


if __name__ == "__main__":
    main()
