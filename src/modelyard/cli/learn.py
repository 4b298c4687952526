"""``modelyard train | compare | predict | evaluate | models``, on one machine or on Spark."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelyard.cli.console import stderr, stdout


class Engine(StrEnum):
    LOCAL = "local"
    SPARK = "spark"


class TaskChoice(StrEnum):
    AUTO = "auto"
    CLASSIFICATION = "classification"
    REGRESSION = "regression"
    CLUSTERING = "clustering"


DataArg = Annotated[
    Path, typer.Argument(help="CSV, TSV, Parquet, JSON lines, libsvm/svmlight or .npz (X, y).")
]
TargetOpt = Annotated[str, typer.Option("--target", "-t", help="The column to predict.")]
TaskOpt = Annotated[TaskChoice, typer.Option("--task", help="What kind of target.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed, recorded in the package.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
EngineOpt = Annotated[
    Engine, typer.Option("--engine", help="local (one machine) or spark (data read by Spark).")
]
MasterOpt = Annotated[
    str,
    typer.Option(
        "--spark-master", help="local[*], spark://HOST:PORT or sc://HOST:PORT (Spark Connect)."
    ),
]
_SPARK_MASTER = "local[*]"


def _bar(*, disable: bool) -> Progress:
    """A progress bar on stderr that disappears when done (silent for --json)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=disable,
    )


def _print_metrics(metrics: dict[str, float], title: str) -> None:
    table = Table(title=title, show_edge=False, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    stdout.print(table)


def _echo_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _is_spark_package(package: Path) -> bool:
    try:
        manifest = json.loads((package / "modelyard.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("backend") == "spark"


def train_command(
    data: DataArg,
    target: TargetOpt,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="A name from `modelyard models`.")
    ] = None,
    task: TaskOpt = TaskChoice.AUTO,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Package folder (default: models/NAME).")
    ] = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    engine: EngineOpt = Engine.LOCAL,
    spark_master: MasterOpt = _SPARK_MASTER,
) -> None:
    """Train a model, print its hold-out metrics and save it as a package."""
    if engine is Engine.SPARK:
        from modelyard.learn import spark

        result: Any = spark.train(
            str(data), target=target, model=model, task=task.value, master=spark_master,
            out=out or Path("models") / f"{data.stem}-{model or 'spark'}", seed=seed,
        )  # fmt: skip
    else:
        from modelyard.learn.api import train
        from modelyard.learn.models import DEFAULT_MODEL

        if task is TaskChoice.CLUSTERING:
            raise typer.BadParameter("clustering runs with --engine spark", param_hint="--task")
        out = out or Path("models") / f"{data.stem}-{model or DEFAULT_MODEL}"
        with _bar(disable=as_json) as bar:
            job = bar.add_task(f"training {model or DEFAULT_MODEL} on {data.name}", total=None)

            def epoch_done(epoch: int, epochs: int, logs: dict[str, float]) -> None:
                loss = logs.get("val_loss", logs.get("loss"))
                suffix = f" (loss {loss:.4f})" if loss is not None else ""
                bar.update(job, completed=epoch, total=epochs,
                           description=f"training {model} epoch {epoch}{suffix}")  # fmt: skip

            result = train(
                data, target, model=model, task=task.value, out=out, seed=seed,
                progress=epoch_done,
            )  # fmt: skip
    if as_json:
        _echo_json(result.to_dict())
        return
    for column, reason in result.dropped.items():
        stderr.print(f"[dim]dropped column {escape(column)!r}: {escape(reason)}[/]")
    _print_metrics(result.metrics, f"{result.model} ({result.task}, hold-out)")
    stdout.print(f"saved to [bold]{escape(str(result.package))}[/]")


def compare_command(
    data: DataArg,
    target: TargetOpt,
    models: Annotated[
        str | None, typer.Option("--models", help="Comma-separated names (default: all).")
    ] = None,
    cv: Annotated[int, typer.Option("--cv", min=2, help="Cross-validation folds.")] = 5,
    time_budget: Annotated[
        float | None,
        typer.Option("--time-budget", min=0, help="Seconds; no candidate starts after that."),
    ] = None,
    task: TaskOpt = TaskChoice.AUTO,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    engine: EngineOpt = Engine.LOCAL,
    spark_master: MasterOpt = _SPARK_MASTER,
) -> None:
    """Cross-validate candidate models and show a leaderboard, best first."""
    names = [name.strip() for name in models.split(",") if name.strip()] if models else None
    with _bar(disable=as_json) as bar:
        job = bar.add_task("comparing", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(job, completed=done, total=total, description=f"cross-validating {what}")

        if engine is Engine.SPARK:
            from modelyard.learn import spark

            board: Any = spark.compare(
                str(data), target=target, models=names, task=task.value, cv=cv,
                time_budget=time_budget, master=spark_master, seed=seed, progress=progress,
            )  # fmt: skip
        else:
            from modelyard.learn.api import compare

            board = compare(
                data, target, models=names, cv=cv, time_budget=time_budget, task=task.value,
                seed=seed, progress=progress,
            )  # fmt: skip
    if as_json:
        _echo_json(board.to_dict())
        return
    table = Table(
        title=f"{board.task}: {board.metric}, {cv}-fold cross-validation",
        header_style="bold",
        show_edge=False,
    )
    for column, justify in (
        ("#", "right"),
        ("model", "left"),
        ("backend", "left"),
        (board.metric, "right"),
        ("std", "right"),
        ("fit s", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for rank, entry in enumerate(board.leaderboard, start=1):
        table.add_row(
            str(rank), entry.model, entry.backend, f"{entry.score:.4f}", f"{entry.std:.4f}",
            f"{entry.fit_seconds:.2f}",
        )  # fmt: skip
    stdout.print(table)
    for name, reason in getattr(board, "skipped", {}).items():
        stderr.print(f"[dim]skipped {escape(name)}: {escape(reason)}[/]")


def predict_command(
    package: Annotated[Path, typer.Argument(help="A model package folder.")],
    data: DataArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write predictions here (.csv or .parquet)."),
    ] = None,
    proba: Annotated[
        bool, typer.Option("--proba", help="Add one probability column per class.")
    ] = False,
    engine: EngineOpt = Engine.LOCAL,
    spark_master: MasterOpt = _SPARK_MASTER,
) -> None:
    """Predict for every row of DATA (CSV to stdout without --out)."""
    if engine is Engine.SPARK or _is_spark_package(package):
        from modelyard.learn import spark

        frame = spark.predict(
            package, str(data), out=str(out) if out else None, proba=proba, master=spark_master
        )
        if out is None:
            sys.stdout.write(frame.toPandas().to_csv(index=False))
        else:
            stderr.print(f"wrote predictions to {escape(str(out))}")
        return
    from modelyard.learn.api import predict

    predictions = predict(package, data, proba=proba)
    if out is None:
        sys.stdout.write(predictions.to_csv(index=False))
    elif out.suffix.lower() in (".parquet", ".pq"):
        predictions.to_parquet(out, index=False)
    else:
        predictions.to_csv(out, index=False)
    if out is not None:
        stderr.print(f"wrote {len(predictions)} predictions to {escape(str(out))}")


def evaluate_command(
    package: Annotated[Path, typer.Argument(help="A model package folder.")],
    data: DataArg,
    as_json: JsonOpt = False,
    engine: EngineOpt = Engine.LOCAL,
    spark_master: MasterOpt = _SPARK_MASTER,
) -> None:
    """Measure a saved model on DATA, which holds the target column."""
    if engine is Engine.SPARK or _is_spark_package(package):
        from modelyard.learn import spark

        metrics = spark.evaluate(package, str(data), master=spark_master)
    else:
        from modelyard.learn.api import evaluate

        metrics = evaluate(package, data)
    if as_json:
        _echo_json(metrics)
    else:
        _print_metrics(metrics, f"{package.name} on {data.name}")


def models_command(as_json: JsonOpt = False) -> None:
    """List every model name with its backend and tasks."""
    from modelyard.learn.backends.spark import MODELS as SPARK_MODELS
    from modelyard.learn.models import all_specs

    rows = [
        {"model": spec.name, "backend": spec.backend, "tasks": sorted(spec.tasks),
         "data": spec.data, "engine": "local", "summary": spec.summary}
        for spec in all_specs()
    ] + [
        {"model": model.name, "backend": "spark", "tasks": list(model.tasks), "data": "table",
         "engine": "spark", "summary": model.summary}
        for model in SPARK_MODELS.values()
    ]  # fmt: skip
    if as_json:
        _echo_json(rows)
        return
    table = Table(header_style="bold", show_edge=False)
    for column in ("model", "backend", "tasks", "data", "engine", "summary"):
        table.add_column(column)
    for row in rows:
        tasks = "both" if row["tasks"] == ["classification", "regression"] else row["tasks"][0]
        table.add_row(
            row["model"], row["backend"], tasks, row["data"], row["engine"], row["summary"]
        )
    stdout.print(table)


def register(app: typer.Typer) -> None:
    """Add the learning commands to the root app."""
    app.command("train")(train_command)
    app.command("compare")(compare_command)
    app.command("predict")(predict_command)
    app.command("evaluate")(evaluate_command)
    app.command("models")(models_command)
