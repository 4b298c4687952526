"""Bayesian models on PyMC: what NUTS and ADVI cost to fit, and how fast a package predicts.

    python -m bench.pymc [--rows 10000] [--features 10] [--predict-rows 100000]

1. Fit time of ``pymc.linear`` by NUTS (2 chains of 1000 draws after 1000 tuning steps) and by
   ADVI on ``--rows`` x ``--features``, after a small fit has filled PyTensor's compile cache.
2. Prediction throughput of a loaded package, ``pymc.linear`` (numpy over the posterior draws,
   with and without 90% intervals) vs ``lightgbm``, on ``--predict-rows`` rows.

Each measurement runs in its own process so that one library's threads and caches do not
affect the next.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap

_DATA = textwrap.dedent(
    """
    import numpy as np, pandas as pd
    def table(rows, features, seed=0):
        rng = np.random.default_rng(seed)
        X = pd.DataFrame(rng.normal(size=(rows, features)),
                         columns=[f"x{i}" for i in range(features)])
        y = X.to_numpy() @ rng.normal(size=features) + rng.normal(scale=0.5, size=rows)
        return X, y
    """
)

_FIT = _DATA + textwrap.dedent(
    """
    import json, sys, time
    from modelyard.learn import Model
    inference, rows, features, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    Model("pymc.linear").fit(*table(100, features), inference=inference)  # compile cache
    X, y = table(rows, features)
    started = time.perf_counter()
    model = Model("pymc.linear").fit(X, y, inference=inference)
    seconds = time.perf_counter() - started
    if out != "-":
        from modelyard.package import save
        save(model, out, target="y")
    print(json.dumps({"seconds": seconds, **model.diagnostics}))
    """
)

_LIGHTGBM = _DATA + textwrap.dedent(
    """
    import sys
    from modelyard.learn import Model
    from modelyard.package import save
    save(Model("lightgbm").fit(*table(int(sys.argv[1]), int(sys.argv[2]))), sys.argv[3], target="y")
    print("{}")
    """
)

_PREDICT = _DATA + textwrap.dedent(
    """
    import json, sys, time
    from modelyard.package import load
    package, rows, features, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    model = load(package)
    X, _ = table(rows, features, seed=1)
    started = time.perf_counter()
    model.predict_interval(X, 0.9) if interval == "yes" else model.predict(X)
    print(json.dumps({"rows_per_second": rows / (time.perf_counter() - started)}))
    """
)


def _run(code: str, *args: object) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pymc", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--predict-rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    rows, features = args.rows, args.features
    with tempfile.TemporaryDirectory() as folder:
        bayes, trees = f"{folder}/pymc", f"{folder}/lightgbm"
        print(f"fit pymc.linear on {rows:,} rows x {features} (compile cache warm):")
        for inference in ("nuts", "advi"):
            fit = _run(_FIT, inference, rows, features, bayes if inference == "nuts" else "-")
            extra = f", r-hat {fit['r_hat_max']:.3f}" if "r_hat_max" in fit else ""
            print(f"  {inference:<5} {fit['seconds']:8.1f} s{extra}")
        _run(_LIGHTGBM, rows, features, trees)
        print(f"predict {args.predict_rows:,} rows with a loaded package:")
        for label, package, interval in (
            ("lightgbm", trees, "no"),
            ("pymc.linear", bayes, "no"),
            ("pymc.linear, 90% interval", bayes, "yes"),
        ):
            speed = _run(_PREDICT, package, args.predict_rows, features, interval)
            print(f"  {label:<26} {speed['rows_per_second']:>12,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
