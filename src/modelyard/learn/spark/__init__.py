"""The Spark engine: train, compare, predict and evaluate with data read and kept by Spark.

The same jobs as the single-machine path, on ``local[*]``, a standalone cluster
(``spark://HOST:PORT``) or Spark Connect (``sc://HOST:PORT``); models are Spark
PipelineModels saved in Spark's own format inside a modelyard package.
"""

from __future__ import annotations

from modelyard.learn.spark.inference import evaluate, predict
from modelyard.learn.spark.packaging import SparkPackageInfo, load
from modelyard.learn.spark.session import DEFAULT_MASTER, start
from modelyard.learn.spark.training import (
    LeaderboardEntry,
    SparkLeaderboard,
    SparkTrainResult,
    compare,
    train,
)

__all__ = [
    "DEFAULT_MASTER",
    "LeaderboardEntry",
    "SparkLeaderboard",
    "SparkPackageInfo",
    "SparkTrainResult",
    "compare",
    "evaluate",
    "load",
    "predict",
    "start",
    "train",
]
