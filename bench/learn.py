"""What modelyard's single interface costs on top of the frameworks it drives.

    python -m bench.learn [--rows 1000000] [--features 20] [--rounds 3] [--compare-rows 50000]

1. Overhead: ``modelyard.learn.Model`` (type detection, imputation, encoding, label coding) vs.
   calling LightGBM and XGBoost directly on the same, already numeric data, with the same
   hyper-parameters and threads; both fit the same rows. Direct and modelyard runs alternate for
   ``--rounds`` rounds; the ratio is the median of the per-round ratios, so that a busy spell of
   the machine falls on both. Target: at most 1.05x.
2. ``compare``: wall time of the default candidate list on a table of ``--compare-rows`` rows
   (5-fold cross-validation, folds in parallel) and how busy the cores were meanwhile; 0 skips it.

Each measurement runs in its own process so that one library's threads and caches do not
affect the next.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from statistics import median

_FIT = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np, pandas as pd
    how, library, rows, features = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, features)).astype("float32")
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(features)])
    started = time.perf_counter()
    if how == "direct":
        from modelyard.learn.backends import lightgbm as lgb_backend, xgboost as xgb_backend
        backend = lgb_backend if library == "lightgbm" else xgb_backend
        estimator = backend.model_specs()[0].factory("classification", 0)
        estimator.fit(X, y)
        predicted = estimator.predict(X)
    else:
        from modelyard.learn import Model
        model = Model(model=library, task="classification", seed=0).fit(frame, y)
        predicted = model.predict(frame)
    seconds = time.perf_counter() - started
    accuracy = float((np.asarray(predicted).astype(int) == y).mean())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "accuracy": accuracy, "peak_mb": peak}))
    """
)

_COMPARE = textwrap.dedent(
    """
    import json, os, sys, time
    import numpy as np, pandas as pd
    rows = int(sys.argv[1])
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"x{i}" for i in range(10)])
    frame["city"] = rng.choice(["north", "south", "east", "west"], rows)
    frame["target"] = (frame["x0"] + (frame["city"] == "north") + rng.normal(size=rows) > 0.5)
    from modelyard.learn.api import compare
    from modelyard.data.reading import Dataset
    data = Dataset("table", frame.drop(columns=["target"]), frame["target"].astype(int),
                   target="target")
    def ticks():  # system-wide busy and total CPU time (cross-validation runs in workers)
        fields = [int(value) for value in open("/proc/stat").readline().split()[1:8]]
        return sum(fields) - fields[3] - fields[4], sum(fields)
    busy, total = ticks()
    wall = time.perf_counter()
    board = compare(data, "target", cv=5)
    wall = time.perf_counter() - wall
    busy_after, total_after = ticks()
    cores = os.cpu_count() * (busy_after - busy) / max(total_after - total, 1)
    print(json.dumps({"wall": wall, "cores": cores,
                      "leaderboard": board.to_dict()["leaderboard"], "skipped": board.skipped}))
    """
)


def _run(code: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def overhead(rows: int, features: int, rounds: int) -> list[str]:
    lines = [
        f"## overhead: {rows:,} rows x {features} features, fit + predict on the same rows, "
        f"medians of {rounds} alternating rounds",
        "",
        "| library | direct s | modelyard s | ratio | accuracy direct / modelyard |",
        "|---|---|---|---|---|",
    ]
    for library in ("lightgbm", "xgboost"):
        direct_s: list[float] = []
        ours_s: list[float] = []
        for _ in range(rounds):
            direct = _run(_FIT, "direct", library, str(rows), str(features))
            ours = _run(_FIT, "modelyard", library, str(rows), str(features))
            direct_s.append(float(direct["seconds"]))  # type: ignore[arg-type]
            ours_s.append(float(ours["seconds"]))  # type: ignore[arg-type]
        ratio = median(mine / theirs for mine, theirs in zip(ours_s, direct_s, strict=True))
        lines.append(
            f"| {library} | {median(direct_s):.1f} | {median(ours_s):.1f} | {ratio:.3f}x "
            f"(target <= 1.05x) | {direct['accuracy']:.4f} / {ours['accuracy']:.4f} |"
        )
        print(lines[-1], flush=True)
    return lines


def compare_timing(rows: int) -> list[str]:
    result = _run(_COMPARE, str(rows))
    wall, cores = float(result["wall"]), float(result["cores"])  # type: ignore[arg-type]
    lines = [
        "",
        f"## compare: {rows:,} rows, 5-fold cross-validation, default candidates",
        "",
        f"wall {wall:.1f} s; cores busy on average (whole machine): {cores:.2f}",
        "",
        "| model | score | fit s |",
        "|---|---|---|",
    ]
    for entry in result["leaderboard"]:  # type: ignore[union-attr]
        lines.append(f"| {entry['model']} | {entry['score']:.4f} | {entry['fit_seconds']:.2f} |")
    for name, reason in result["skipped"].items():  # type: ignore[union-attr]
        lines.append(f"| {name} | skipped: {reason} | |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.learn", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare-rows", type=int, default=50_000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    lines = overhead(args.rows, args.features, args.rounds)
    if args.compare_rows > 0:
        lines += compare_timing(args.compare_rows)
    print("\n".join(lines))
    print(f"\n(bench/learn took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
