"""``modelyard train | compare | predict | evaluate | models``, on one machine or on Spark."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from modelyard.cli.console import escape, stderr, stdout
from modelyard.cli.parsing import Commands, add_command, at_least
from modelyard.errors import UsageError
from modelyard.learn.registry import DEFAULT_MASTER, Clustering, Engine, Inference, TaskOrAuto

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from modelyard.learn.results import LeaderboardEntry
    from modelyard.learn.search import Standings

TASKS = (*get_args(TaskOrAuto), *get_args(Clustering))
ENGINES = get_args(Engine)
INFERENCES = get_args(Inference)


def _bar(*, disable: bool) -> Progress:
    """A progress bar on stderr that disappears when done (silent for --json)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=stderr(),
        transient=True,
        disable=disable,
    )


def _print_metrics(metrics: dict[str, float], title: str) -> None:
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    stdout().print(table)


@contextmanager
def _data_warnings() -> Iterator[None]:
    """Print each ``UnparsedValuesWarning`` the job raises once, as a line on stderr; other
    warnings pass through as usual."""
    import warnings

    from modelyard.data.errors import UnparsedValuesWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnparsedValuesWarning)
        try:
            yield
        finally:
            shown: set[str] = set()
            for warning in caught:
                message = str(warning.message)
                if not issubclass(warning.category, UnparsedValuesWarning):
                    warnings.showwarning(
                        warning.message, warning.category, warning.filename, warning.lineno
                    )
                elif message not in shown:
                    shown.add(message)
                    stderr().print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def _echo_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def train_command(args: argparse.Namespace) -> None:
    """Train a model, print its hold-out metrics and save it as a package."""
    from modelyard.learn.api import train
    from modelyard.learn.models import DEFAULT_MODEL

    data, model, task, engine, as_json = args.data, args.model, args.task, args.engine, args.json
    if task == "clustering" and engine == "local":
        raise UsageError("--task clustering runs with --engine spark")
    name = model or (DEFAULT_MODEL if engine == "local" else "spark")
    # Spark logs to the terminal itself, which a live progress bar would garble.
    with _bar(disable=as_json or engine == "spark") as bar:
        job = bar.add_task(f"training {name} on {data.name}", total=None)

        def epoch_done(epoch: int, epochs: int, logs: dict[str, float]) -> None:
            loss = logs.get("val_loss", logs.get("loss"))
            suffix = f" (loss {loss:.4f})" if loss is not None else ""
            description = f"training {model} epoch {epoch}{suffix}"
            bar.update(job, completed=epoch, total=epochs, description=description)

        result = train(
            data,
            args.target,
            model=model,
            task=task,
            out=args.out or Path("models") / f"{data.stem}-{name}",
            seed=args.seed,
            refit=args.refit,
            progress=epoch_done,
            inference=args.fit,
            engine=engine,
            spark_master=args.spark_master,
        )
    _say_missing_target(result.missing_target_rows, args.target)
    if as_json:
        _echo_json(result.to_dict())
        return
    for column, reason in result.dropped.items():
        stderr().print(f"[dim]dropped column {escape(column)!r}: {escape(reason)}[/]")
    _print_metrics(result.metrics, f"{result.model} ({result.task}, hold-out)")
    if result.evaluation is not None:
        stdout().print(escape(result.evaluation.summary))
    stdout().print(f"saved to [bold]{escape(str(result.package))}[/]")


def compare_command(args: argparse.Namespace) -> None:
    """Cross-validate candidate models and show a leaderboard, best first."""
    started = time.monotonic()  # the budget counts the imports below, slow on a busy machine
    from modelyard.learn.api import compare

    models, cv, as_json, budget = args.models, args.cv, args.json, args.time_budget
    names = [name.strip() for name in models.split(",") if name.strip()] if models else None
    live = budget is not None and not as_json and stderr().is_terminal
    with _bar(disable=as_json or live) as bar, _standings(budget, disable=not live) as standings:
        job = bar.add_task("comparing", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(job, completed=done, total=total, description=f"cross-validating {what}")

        board = compare(
            args.data,
            args.target,
            models=names,
            cv=cv,
            time_budget=None if budget is None else max(0.0, budget - (time.monotonic() - started)),
            task=args.task,
            seed=args.seed,
            progress=progress,
            standings=standings,
            out=args.out,
            engine=args.engine,
            spark_master=args.spark_master,
        )
    _say_missing_target(getattr(board, "missing_target_rows", 0), args.target)
    if as_json:
        _echo_json(board.to_dict())
        return
    title = f"{board.task}: {board.metric}, {cv}-fold cross-validation"
    stdout().print(_leaderboard_table(board.metric, board.leaderboard, title))
    for name, reason in getattr(board, "skipped", {}).items():
        stderr().print(f"[dim]skipped {escape(name)}: {escape(reason)}[/]")
    for note in getattr(board, "notes", []):
        stderr().print(f"[yellow]{escape(note)}[/]")
    if getattr(board, "package", None):
        stdout().print(f"saved the winner to [bold]{escape(str(board.package))}[/]")


def _say_missing_target(rows: int, target: str) -> None:
    if rows:
        stderr().print(
            f"[yellow]left out {rows:,} row(s) whose target {escape(target)!r} is missing[/]"
        )


def _leaderboard_table(metric: str, entries: list[LeaderboardEntry], title: str) -> Table:
    """The leaderboard as a table; searched candidates add their trials and parameters."""
    from rich.table import Table

    searched = any(entry.params is not None for entry in entries)
    table = Table(title=title, header_style="bold", show_edge=False)
    columns = [("#", "right"), ("model", "left"), ("backend", "left"), (metric, "right")]
    columns += [("std", "right"), ("fit s", "right")]
    if searched:
        columns += [("trials", "right"), ("params", "left")]
    for column, justify in columns:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for rank, entry in enumerate(entries, start=1):
        score, std, seconds = f"{entry.score:.4f}", f"{entry.std:.4f}", f"{entry.fit_seconds:.2f}"
        row = [str(rank), entry.model, entry.backend, score, std, seconds]
        if searched:
            trials = "" if entry.trials is None else str(entry.trials)
            row += [trials, escape(_params(entry.params or {}))]
        table.add_row(*row)
    return table


def _params(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in params.items()
    )


@contextmanager
def _standings(budget: float | None, *, disable: bool) -> Iterator[Standings | None]:
    """A live leaderboard on stderr while a time budget runs (gone when done)."""
    if disable or budget is None:
        yield None
        return
    from rich.live import Live
    from rich.text import Text

    with Live(Text(f"searching for {budget:g} s"), console=stderr(), transient=True) as live:

        def show(elapsed: float, entries: list[LeaderboardEntry]) -> None:
            live.update(_leaderboard_table("score", entries, f"{elapsed:.0f} s of {budget:g} s"))

        yield show


def predict_command(args: argparse.Namespace) -> None:
    """Predict for every row of DATA (CSV to stdout without --out)."""
    import pandas as pd

    from modelyard.learn.api import predict

    out = args.out
    array_out = out is not None and out.suffix.lower() in (".npy", ".npz")
    if args.data.suffix.lower() == ".npy" or array_out:
        _predict_arrays(args.package, args.data, out)
        return
    with _data_warnings():
        predictions = predict(
            args.package,
            args.data,
            proba=args.proba,
            interval=args.interval,
            out=out,
            engine=args.engine,
            spark_master=args.spark_master,
        )
    if not isinstance(predictions, pd.DataFrame):
        # A Spark frame, written by Spark as a folder of part files; counting rows costs a job.
        if out is None:
            sys.stdout.write(predictions.toPandas().to_csv(index=False))  # type: ignore[operator]
        else:
            stderr().print(f"wrote predictions to {escape(str(out))}")
        return
    if out is None:
        sys.stdout.write(predictions.to_csv(index=False))
    else:
        stderr().print(f"wrote {len(predictions)} predictions to {escape(str(out))}")


def _predict_arrays(package: Path, data: Path, out: Path | None) -> None:
    """``predict`` of an ONNX package on arrays: outputs written as ``.npy`` or ``.npz``."""
    from modelyard.learn.api import predict_arrays

    if out is None:
        raise UsageError("array predictions need --out Y.npy (first output) or Y.npz (all)")
    outputs = predict_arrays(package, data, out)
    shapes = ", ".join(f"{name} {tuple(value.shape)}" for name, value in outputs.items())
    stderr().print(f"wrote {escape(str(out))}: {escape(shapes)}")


def evaluate_command(args: argparse.Namespace) -> None:
    """Measure a saved model on DATA, which holds the target column."""
    from modelyard.learn.api import evaluate

    package, data = args.package, args.data
    with _data_warnings():
        metrics = evaluate(package, data, engine=args.engine, spark_master=args.spark_master)
    if args.json:
        _echo_json(metrics)
    else:
        _print_metrics(metrics, f"{package.name} on {data.name}")


def models_command(args: argparse.Namespace) -> None:
    """List every model name with its backend and tasks."""
    as_json = args.json
    from modelyard.learn.backends import spark
    from modelyard.learn.models import all_specs

    local = [
        _model_row(spec.name, spec.backend, sorted(spec.tasks), spec.data, "local", spec.summary)
        for spec in all_specs()
    ]
    on_spark = [
        _model_row(model.name, spark.NAME, list(model.tasks), "table", "spark", model.summary)
        for model in spark.model_specs()
    ]
    rows = local + on_spark
    if as_json:
        _echo_json(rows)
        return
    from rich.table import Table

    table = Table(header_style="bold", show_edge=False)
    for column in ("model", "backend", "tasks", "data", "engine", "summary"):
        table.add_column(column)
    for row in rows:
        tasks = "both" if row["tasks"] == ["classification", "regression"] else row["tasks"][0]
        table.add_row(
            row["model"], row["backend"], tasks, row["data"], row["engine"], row["summary"]
        )
    stdout().print(table)


def _model_row(
    model: str, backend: str, tasks: list[str], data: str, engine: str, summary: str
) -> dict[str, Any]:
    """One line of ``modelyard models`` (and one object of its ``--json``)."""
    return {
        "model": model,
        "backend": backend,
        "tasks": tasks,
        "data": data,
        "engine": engine,
        "summary": summary,
    }


def register(commands: Commands) -> None:
    """Add the learning commands to the root command."""
    train = add_command(commands, "train", train_command)
    _data_and_target(train)
    train.add_argument("-m", "--model", help="a name from `modelyard models`")
    _task(train)
    train.add_argument(
        "--fit", choices=INFERENCES, help="pymc models: nuts (default) or advi (large tables)"
    )
    train.add_argument("-o", "--out", type=Path, help="package folder (default: models/NAME)")
    train.add_argument(
        "--no-refit",
        dest="refit",
        action="store_false",
        help="keep the model measured on the hold-out (default: refit it on all rows)",
    )
    _common(train, seed=True)

    compare = add_command(commands, "compare", compare_command)
    _data_and_target(compare)
    compare.add_argument("--models", help="comma-separated names (default: all)")
    compare.add_argument(
        "--cv", type=at_least(2), default=5, help="cross-validation folds (default: 5)"
    )
    compare.add_argument(
        "--time-budget",
        type=at_least(0, float),
        metavar="SECONDS",
        help="spend this long: tune the best candidates, then ensemble them",
    )
    compare.add_argument(
        "-o", "--out", type=Path, help="save the winner (a model or an ensemble) here"
    )
    _task(compare)
    _common(compare, seed=True)

    predict = add_command(commands, "predict", predict_command)
    predict.add_argument("package", metavar="PACKAGE", type=Path, help="a model package folder")
    _data(predict)
    predict.add_argument(
        "-o",
        "--out",
        type=Path,
        help="write predictions here (.csv or .parquet; .npy or .npz: an onnx package's outputs)",
    )
    predict.add_argument(
        "--proba", action="store_true", help="add one probability column per class"
    )
    predict.add_argument(
        "--interval",
        type=float,
        metavar="LEVEL",
        help="pymc models: add the posterior interval's bounds at this level, e.g. 0.9",
    )
    _engine(predict)

    evaluate = add_command(commands, "evaluate", evaluate_command)
    evaluate.add_argument("package", metavar="PACKAGE", type=Path, help="a model package folder")
    _data(evaluate)
    _common(evaluate, seed=False)

    models = add_command(commands, "models", models_command)
    _json(models)


def _data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        metavar="DATA",
        type=Path,
        help="CSV, TSV, Parquet, JSON lines, libsvm/svmlight or .npz (X, y)",
    )


def _data_and_target(parser: argparse.ArgumentParser) -> None:
    _data(parser)
    parser.add_argument("-t", "--target", required=True, help="the column to predict")


def _task(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task", choices=TASKS, default="auto", help="what kind of target (default: auto)"
    )


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local (one machine) or spark (data read by Spark)",
    )
    parser.add_argument(
        "--spark-master",
        default=DEFAULT_MASTER,
        metavar="URL",
        help="local[*], spark://HOST:PORT or sc://HOST:PORT (Spark Connect)",
    )


def _common(parser: argparse.ArgumentParser, *, seed: bool) -> None:
    if seed:
        parser.add_argument(
            "--seed", type=int, default=0, help="random seed, recorded in the package"
        )
    _json(parser)
    _engine(parser)
