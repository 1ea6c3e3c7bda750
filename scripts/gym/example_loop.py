#!/usr/bin/env python3
"""Example training loop against `mlgym serve`: several episodes at once (one thread
each), a scripted policy instead of a model, final scores printed at the end.

    mlgym serve --bind 127.0.0.1:8765 &
    python3 scripts/gym/example_loop.py --url http://127.0.0.1:8765 --episodes 4

Each episode looks at its workspace, writes a strategy (a different one per episode),
validates it, and submits. The reward of a scored step is the primary metric's
improvement over the baseline (the server's default reward).
"""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mlgym_client import Client, GymError  # noqa: E402

# Strategies a policy can write, per game task (row player; moves as the task says).
STRATEGIES = {
    "battleOfSexes": [
        "def row_strategy(history):\n    return 0\n",
        "def row_strategy(history):\n    return 1\n",
        "def row_strategy(history):\n    return history[-1][1] if history else 0\n",
    ],
    "prisonersDilemma": [
        "def row_strategy(history):\n    return history[-1][1] if history else 0\n",
        "def row_strategy(history):\n    return 1\n",
        "def row_strategy(history):\n    return 0\n",
    ],
    "blotto": [
        "def row_strategy(history):\n    return [20, 20, 20, 20, 20, 20]\n",
        "def row_strategy(history):\n    return [30, 30, 30, 30, 0, 0]\n",
        "def row_strategy(history):\n    return [24, 24, 24, 24, 24, 0]\n",
    ],
}


def policy(task, index):
    """The scripted actions of episode `index`."""
    options = STRATEGIES.get(task)
    if options is None:
        return ["ls", "validate", "submit"]
    code = options[index % len(options)]
    return ["ls", "cat > strategy.py <<'EOF'\n%sEOF" % code, "validate", "submit"]


def run_episode(client, task, seed, index, results):
    started = time.time()
    try:
        ep = client.create(task, seed=seed, attach=True)
    except GymError as e:
        results[index] = {"error": str(e)}
        return
    total = 0.0
    info = ep.info
    done = False
    try:
        for action in policy(task, index):
            _, reward, done, info = ep.step(action)
            total += reward
            if done:
                break
    except GymError as e:
        results[index] = {"id": ep.id, "error": str(e)}
    else:
        results[index] = {
            "id": ep.id,
            "exit_status": info.get("exit_status"),
            "score": info.get("last_score"),
            "return": total,
            "steps": info.get("step"),
            "seconds": time.time() - started,
            "run_dir": info.get("run_dir"),
        }
    finally:
        ep.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8765", help="the server (default %(default)s)")
    ap.add_argument("--task", default="battleOfSexes", help="task id (default %(default)s)")
    ap.add_argument("--episodes", type=int, default=4, help="episodes run at once (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the first episode; episode i uses seed+i")
    ap.add_argument("--token-file", help="file holding the server's bearer token (default: $MLGYM_GYM_TOKEN)")
    args = ap.parse_args()
    token = open(args.token_file).read().strip() if args.token_file else None
    client = Client(args.url, token=token)
    try:
        client.health()
    except GymError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    results = [None] * args.episodes
    threads = [threading.Thread(target=run_episode, args=(client, args.task, args.seed + i, i, results)) for i in range(args.episodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = 0
    for i, r in enumerate(results):
        if r is None or "error" in r:
            failed += 1
            print("episode %d: ERROR %s" % (i, (r or {}).get("error", "no result")))
            continue
        score = "n/a" if r["score"] is None else "%.4f" % r["score"]
        print("episode %d: %s exit_status=%s score=%s return=%.4f steps=%d (%.1f s)" % (i, r["id"], r["exit_status"], score, r["return"], r["steps"], r["seconds"]))
    scores = [r["score"] for r in results if r and "error" not in r and r["score"] is not None]
    print("final scores: %s" % ", ".join("%.4f" % s for s in scores))
    if scores:
        print("best score: %.4f over %d episode(s)" % (max(scores), len(scores)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
