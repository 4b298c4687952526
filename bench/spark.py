"""Spark trains on a table that pandas cannot load under the same memory cap.

    python -m bench.spark [--rows 10000000] [--small-rows 1000000] [--cap-gb 2]

1. Generates a Parquet table in ``bench/.work/spark/`` (12 numeric features with few distinct
   values, so the file is small on disk and large in memory, one category, a numeric target).
2. Loads it whole with pandas in a subprocess whose address space is capped
   (``RLIMIT_AS``): this is expected to fail.
3. Trains ``spark.linear`` on it with the Spark engine on ``local[2]`` with
   ``spark.driver.memory=1g``, then predicts every row to Parquet; reports wall time and rows/s.
4. On a smaller table both can handle, compares the Spark engine with the single-machine way:
   pandas + scikit-learn (one-hot encoding, linear regression, 80/20 hold-out), uncapped.

Each measurement runs in its own process so that memory limits and JVM settings apply cleanly.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "spark"
FEATURES = 12
FILES = 4
CHUNK_ROWS = 1_000_000


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Write ``rows`` rows as ``FILES`` Parquet part files in ``path`` (kept between runs)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    stamp = path / "_ROWS"
    if stamp.is_file() and stamp.read_text() == str(rows):
        return
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=FEATURES)
    offsets = {"north": 0.0, "south": 1.5, "east": -1.0, "west": 0.5}
    regions = np.array(list(offsets))
    per_file = -(-rows // FILES)
    for index in range(FILES):
        file_rows = min(per_file, rows - index * per_file)
        with pq.ParquetWriter(path / f"part-{index:05d}.parquet", _schema()) as writer:
            for start in range(0, file_rows, CHUNK_ROWS):
                n = min(CHUNK_ROWS, file_rows - start)
                # Two decimals in [0, 1): a hundred values per column, dictionary-encoded on
                # disk, eight bytes each in memory.
                x = np.round(rng.random((n, FEATURES)), 2)
                region = regions[rng.integers(0, len(regions), n)]
                y = x @ weights + np.vectorize(offsets.get)(region) + rng.normal(0, 0.1, n)
                columns = [pa.array(x[:, j]) for j in range(FEATURES)]
                columns += [pa.array(region), pa.array(y)]
                writer.write_table(pa.Table.from_arrays(columns, schema=_schema()))
    stamp.write_text(str(rows))


def _schema() -> object:
    import pyarrow as pa

    fields = [pa.field(f"x{j}", pa.float64()) for j in range(FEATURES)]
    return pa.schema([*fields, pa.field("region", pa.string()), pa.field("y", pa.float64())])


def run_capped(code: str, cap_bytes: int | None) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter, optionally with its address space capped.

    Returns ``ok``, ``seconds``, ``peak_rss_mb`` (of the whole process tree, a JVM included),
    the last line of stderr on failure, and the JSON the code printed last on stdout.
    """

    def cap() -> None:
        if cap_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=cap,  # the limit must be set in the child before it starts
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.2):
            peak = max(peak, _tree_rss(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = child.communicate()
    stop.set()
    sampler.join()
    result: dict[str, object] = {
        "ok": child.returncode == 0,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak / 2**20),
    }
    if child.returncode == 0:
        result.update(json.loads(stdout.strip().splitlines()[-1]))
    else:
        errors = [line for line in stderr.strip().splitlines() if line.strip()]
        result["error"] = errors[-1] if errors else f"exit code {child.returncode}"
    return result


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants, read from /proc."""
    parents: dict[int, int] = {}
    resident: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:  # the process ended while we looked
            continue
        pid = int(status.parent.name)
        parents[pid] = int(fields["PPid"])
        resident[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(resident.get(pid, 0) for pid in tree)


PANDAS_LOAD = """
import json, pandas
frame = pandas.read_parquet({path!r})
memory = frame.memory_usage(deep=True).sum()
print(json.dumps({{"rows": len(frame), "memory_mb": round(memory / 2**20)}}))
"""

PANDAS_TRAIN = """
import json, time, pandas
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
started = time.perf_counter()
frame = pandas.read_parquet({path!r})
X, y = frame.drop(columns="y"), frame["y"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["region"]),
                                 remainder="passthrough")
model = make_pipeline(encode, LinearRegression()).fit(X_train, y_train)
r2 = r2_score(y_test, model.predict(X_test))
print(json.dumps({{"r2": round(r2, 4), "job_seconds": round(time.perf_counter() - started, 1)}}))
"""

SPARK_TRAIN = """
import json, shutil, time
from modelyard.learn import spark
conf = {{"spark.driver.memory": "1g"}}
spark.start("local[2]", conf=conf)
shutil.rmtree({package!r}, ignore_errors=True)
shutil.rmtree({predictions!r}, ignore_errors=True)
started = time.perf_counter()
result = spark.train({path!r}, target="y", model="spark.linear", master="local[2]",
                     out={package!r}, conf=conf)
trained = time.perf_counter()
spark.predict({package!r}, {path!r}, out={predictions!r}, master="local[2]", conf=conf)
predicted = time.perf_counter()
print(json.dumps({{"r2": round(result.metrics["r2"], 4),
                  "train_seconds": round(trained - started, 1),
                  "predict_seconds": round(predicted - trained, 1)}}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.spark", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--small-rows", type=int, default=1_000_000)
    parser.add_argument("--cap-gb", type=float, default=2.0)
    args = parser.parse_args(argv)
    cap = int(args.cap_gb * 2**30)
    big, small = WORK / f"table-{args.rows}.parquet", WORK / f"table-{args.small_rows}.parquet"

    started = time.perf_counter()
    generate(big, args.rows)
    generate(small, args.small_rows, seed=1)
    print(
        f"data: {args.rows:,} rows, {_size_mb(big)} MB of Parquet on disk "
        f"({time.perf_counter() - started:.0f} s to generate or find)"
    )

    report: dict[str, object] = {
        "rows": args.rows,
        "small_rows": args.small_rows,
        "cap_gb": args.cap_gb,
        "parquet_mb": _size_mb(big),
    }
    report["pandas_load_big"] = run_capped(PANDAS_LOAD.format(path=str(big)), cap)
    # The control: under the same cap pandas loads the small table, so the cap alone is no bar.
    report["pandas_load_small"] = run_capped(PANDAS_LOAD.format(path=str(small)), cap)
    report["spark_big"] = _spark(big, "big")
    # BLAS reserves address space per thread, so the small comparison runs without the cap.
    report["pandas_train_small"] = run_capped(PANDAS_TRAIN.format(path=str(small)), None)
    report["spark_small"] = _spark(small, "small")
    for name in ("spark_big", "spark_small"):
        run = report[name]
        rows = args.rows if name == "spark_big" else args.small_rows
        if isinstance(run, dict) and run["ok"]:
            run["train_rows_per_second"] = round(rows / run["train_seconds"])
            run["predict_rows_per_second"] = round(rows / run["predict_seconds"])

    print(json.dumps(report, indent=2))
    (WORK / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    big_ok = report["spark_big"]["ok"] and not report["pandas_load_big"]["ok"]  # type: ignore[index]
    return 0 if big_ok else 1


def _spark(path: Path, name: str) -> dict[str, object]:
    code = SPARK_TRAIN.format(
        path=str(path),
        package=str(WORK / f"package-{name}"),
        predictions=str(WORK / f"predictions-{name}.parquet"),
    )
    return run_capped(code, None)


def _size_mb(path: Path) -> int:
    return round(sum(p.stat().st_size for p in path.glob("*.parquet")) / 2**20)


if __name__ == "__main__":
    raise SystemExit(main())
