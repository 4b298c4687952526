"""``modelyard export`` and ``modelyard import``: packages to ONNX, other formats to packages."""

from __future__ import annotations

import argparse
from pathlib import Path

from modelyard.cli.console import escape, stdout
from modelyard.cli.parsing import Commands, add_command, add_group

EXPORT_FORMATS = ("onnx",)


def export_command(args: argparse.Namespace) -> None:
    """Export a package to ONNX, preprocessing included (one named input per raw column).

    The ONNX model is checked against the package before it is written: the same labels, and
    probabilities (or values) within 1e-5, on rows of --data or on rows drawn from what the
    preprocessing learned.
    """
    from modelyard.convert.export import TOLERANCE, export_onnx

    result = export_onnx(args.package, args.out, data=args.data)
    agreement = (
        "labels identical, largest probability difference"
        if result.task == "classification"
        else "largest relative difference"
    )
    stdout().print(
        f"checked on {result.rows} {result.sample} rows: {agreement} "
        f"{result.max_difference:.2g} (tolerance {TOLERANCE:g})"
    )
    inputs = ", ".join(result.inputs)
    stdout().print(f"wrote [bold]{escape(str(result.path))}[/] (inputs: {escape(inputs)})")


def import_caffe_command(args: argparse.Namespace) -> None:
    """Import a Caffe model (deploy prototxt and caffemodel) as an ONNX package.

    Nothing of Caffe is needed, and no code from the files runs. The result is checked against
    OpenCV 4's Caffe forward when OpenCV is installed; no package is written if a layer is not
    supported or the check fails.
    """
    from modelyard.convert.caffe import import_caffe

    result = import_caffe(args.prototxt, args.caffemodel, args.out, input_shape=args.input_shape)
    stdout().print(f"converted {result.layers} layers, input {result.input_shape}")
    stdout().print(f"checked: {escape(result.check)}")
    stdout().print(f"saved to [bold]{escape(str(result.package))}[/]")


def import_mxnet_command(args: argparse.Namespace) -> None:
    """Import an MXNet model (symbol JSON and params) as an ONNX package.

    Takes a model-zoo checkpoint (Module.save_checkpoint) or a Gluon HybridBlock.export;
    nothing of MXNet is needed. No package is written if an operator is not supported.
    """
    from modelyard.convert.mxnet import import_mxnet

    result = import_mxnet(args.symbol, args.params, args.out, input_shape=args.input_shape)
    stdout().print(f"converted {result.operators} operators, input {result.input_shape}")
    stdout().print(f"checked: {escape(result.check)}")
    stdout().print(f"saved to [bold]{escape(str(result.package))}[/]")


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not sizes such as 1,3,224,224") from None
    if min(shape) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} has a size below 1")
    return shape


def register(commands: Commands) -> None:
    """Add ``export`` and ``import`` to the root command."""
    export = add_command(commands, "export", export_command)
    export.add_argument("package", metavar="PACKAGE", type=Path, help="a model package folder")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="onnx", help="onnx")
    export.add_argument("-o", "--out", type=Path, required=True, help="the file to write")
    export.add_argument(
        "--data", type=Path, help="raw rows to check the export on (default: drawn at random)"
    )

    imports = add_group(commands, "import", "Import models made by other frameworks as packages.")
    caffe = add_command(imports, "caffe", import_caffe_command)
    caffe.add_argument("prototxt", metavar="DEPLOY.prototxt", type=Path, help="the net")
    caffe.add_argument("caffemodel", metavar="WEIGHTS.caffemodel", type=Path, help="its weights")
    caffe.add_argument("-o", "--out", type=Path, required=True, help="the package folder")
    caffe.add_argument(
        "--input-shape", type=_shape, metavar="N,C,H,W", help="replaces the net's input shape"
    )

    mxnet = add_command(imports, "mxnet", import_mxnet_command)
    mxnet.add_argument("symbol", metavar="PREFIX-symbol.json", type=Path, help="the graph")
    mxnet.add_argument("params", metavar="PREFIX-NNNN.params", type=Path, help="its weights")
    mxnet.add_argument(
        "--input-shape",
        type=_shape,
        metavar="N,C,H,W",
        required=True,
        help="the input's shape: N,C,H,W for images, or any sizes, e.g. N,STEPS,FEATURES",
    )
    mxnet.add_argument("-o", "--out", type=Path, required=True, help="the package folder")
