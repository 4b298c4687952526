"""Make the TensorFlow Lite fixtures of tests/scan/formats (run once, by real TensorFlow; the
tests never import it).

TensorFlow is too heavy for the project's environment, so it runs in a venv of its own:

    python3 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu
    /tmp/tfvenv/bin/python scripts/tflite_fixtures.py tests/scan/formats/fixtures/tflite

Writes a small dense network converted with builtin operators only (``dense.tflite``), graphs
that need a TensorFlow (Flex) operator (``flex.tflite``; ``flex_read_file.tflite`` reads a file)
and one with a custom operator (``custom.tflite``), each as the TFLite converter writes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tensorflow as tf


def dense() -> bytes:
    model = tf.keras.Sequential(
        [tf.keras.Input((4,)), tf.keras.layers.Dense(8, "relu"), tf.keras.layers.Dense(3)]
    )
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


@tf.function(input_signature=[tf.TensorSpec([2], tf.string)])
def _flex(x: tf.Tensor) -> tf.Tensor:
    return tf.strings.reduce_join(x)  # no builtin TFLite operator does this


@tf.function(input_signature=[tf.TensorSpec([], tf.string)])
def _read_file(path: tf.Tensor) -> tf.Tensor:
    return tf.io.read_file(path)


def _convert(function: tf.types.experimental.PolymorphicFunction, flex: bool) -> bytes:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()])
    if flex:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS,
            tf.lite.OpsSet.SELECT_TF_OPS,
        ]
    else:  # what no builtin does becomes a custom operator of the same name
        converter.allow_custom_ops = True
    return converter.convert()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "dense.tflite").write_bytes(dense())
    (out / "flex.tflite").write_bytes(_convert(_flex, flex=True))
    (out / "flex_read_file.tflite").write_bytes(_convert(_read_file, flex=True))
    (out / "custom.tflite").write_bytes(_convert(_flex, flex=False))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
