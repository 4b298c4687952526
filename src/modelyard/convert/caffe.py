"""Caffe models (``deploy.prototxt`` + ``.caffemodel``) as ONNX packages, without Caffe.

The net is read with ``caffe_schema``, weights are matched to layers by name, in-place tops
(``ReLU`` writing over its bottom) get names of their own, and every layer becomes ONNX
operators (opset ``OPSET``). Shapes are followed through the net: Caffe rounds pooled sizes
up, which is written as explicit end pads, since ONNX's ceil mode disagrees with Caffe on
padded pooling. The result is checked against OpenCV's Caffe forward when OpenCV 4 is
installed, and always run once by onnxruntime, before the package is written.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.convert.errors import ConvertError, ParityError, UnsupportedLayerError
from modelyard.convert.graph import OnnxGraph, int64, pooled_size
from modelyard.learn.registry import Task

OPSET = 13
TOLERANCE = 1e-5
_CHECK_SEED = 0

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ImportResult:
    """The package ``import_caffe`` wrote, its input shape and the check it passed."""

    package: Path
    input_shape: Shape
    layers: int
    check: str


def import_caffe(
    prototxt: str | Path,
    caffemodel: str | Path,
    out: str | Path,
    *,
    input_shape: Sequence[int] | None = None,
    title: str | None = None,
) -> ImportResult:
    """Convert a Caffe model to an ONNX package in ``out`` (written whole, or not at all).

    ``input_shape`` (N, C, H, W) replaces the shape the net declares for its input.

    Raises:
        UnsupportedLayerError: a layer's type (or option) is not converted; names the layer.
        ConvertError: a file is unreadable, a layer lacks its weights, or shapes do not fit.
        ParityError: the ONNX model disagrees with OpenCV's Caffe forward.
    """
    from modelyard.convert.package import save_onnx_package, source_files

    prototxt, caffemodel = Path(prototxt), Path(caffemodel)
    net = read_net(prototxt)
    weights = read_weights(caffemodel)
    converted = _Converter(net, weights, input_shape).convert()
    check = _check(converted, prototxt, caffemodel)
    last = converted.last_layer_type
    task: Task = "classification" if last == "Softmax" else "regression"
    output_shape = converted.output_shapes[0]
    classes = list(range(output_shape[1])) if task == "classification" else []
    origin = {
        "format": "Caffe",
        "files": source_files(prototxt, caffemodel),
        "check": check,
    }
    package = save_onnx_package(
        converted.model, out, task=task, classes=classes, origin=origin, title=title
    )
    return ImportResult(package, converted.input_shape, converted.layers, check)


def read_net(path: Path) -> Any:
    """A ``deploy.prototxt`` as a ``caffe.NetParameter``."""
    from google.protobuf import text_format

    from modelyard.convert.caffe_schema import net_parameter_class

    try:
        text = path.read_text(encoding="utf-8")
        return text_format.Parse(text, net_parameter_class()(), allow_unknown_field=True)
    except (OSError, UnicodeDecodeError, text_format.ParseError) as error:
        raise ConvertError(f"{path.name} is not a readable Caffe prototxt: {error}") from None


def read_weights(path: Path) -> dict[str, list[Any]]:
    """Layer name -> its weight arrays, from a ``.caffemodel`` (new or V1 layers)."""
    from google.protobuf.message import DecodeError

    from modelyard.convert.caffe_schema import net_parameter_class

    try:
        net = net_parameter_class().FromString(path.read_bytes())
    except (OSError, DecodeError) as error:
        raise ConvertError(f"{path.name} is not a readable caffemodel: {error}") from None
    layers = list(net.layer) or list(net.layers)
    return {layer.name: [_blob_array(blob) for blob in layer.blobs] for layer in layers}


def _blob_array(blob: Any) -> Any:
    import numpy as np

    data = np.asarray(blob.data or blob.double_data, dtype=np.float32)
    if blob.HasField("shape"):
        shape: tuple[int, ...] = tuple(blob.shape.dim)
    else:
        shape = tuple(dim for dim in (blob.num, blob.channels, blob.height, blob.width))
    if math.prod(shape) != data.size:
        raise ConvertError(f"a weight blob holds {data.size} values for shape {shape}")
    return data.reshape(shape)


@dataclass
class _Converted:
    model: Any
    input_name: str
    input_shape: Shape
    output_shapes: list[Shape]
    output_layers: list[str]
    opencv_differs: list[str]
    layers: int
    last_layer_type: str


class _Converter:
    """One pass over the layers, adding ONNX nodes and following every blob's shape."""

    def __init__(
        self, net: Any, weights: dict[str, list[Any]], input_shape: Sequence[int] | None
    ) -> None:
        self.net = net
        self.weights = weights
        self.input_shape = tuple(input_shape) if input_shape else None
        self.graph = OnnxGraph()
        self.blobs: dict[str, str] = {}  # Caffe blob name -> its current ONNX tensor
        self.shapes: dict[str, Shape] = {}  # ONNX tensor -> shape
        self.used: set[str] = set()
        self.consumed: set[str] = set()
        self.inputs: list[tuple[str, Shape]] = []
        self.producers: dict[str, str] = {}  # ONNX tensor -> the Caffe layer that made it
        self.opencv_differs: list[str] = []  # why OpenCV's Caffe forward is no reference here

    def convert(self) -> _Converted:
        from onnx import TensorProto, checker, helper

        self._declared_inputs()
        layers = [layer for layer in self.net.layer if _in_test_phase(layer)]
        if not self.net.layer and len(self.net.layers):
            raise ConvertError(
                "the prototxt uses Caffe's old V1 layer format",
                hint="upgrade it with Caffe's upgrade_net_proto_text tool",
            )
        for layer in layers:
            self._layer(layer)
        if len(self.inputs) != 1:
            raise ConvertError(f"the net has {len(self.inputs)} inputs; modelyard imports one")
        outputs = [name for name in self.blobs.values() if name not in self.consumed]
        input_name, input_shape = self.inputs[0]
        graph = helper.make_graph(
            self.graph.nodes,
            self.net.name or "caffe",
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", *input_shape[1:]])],
            [
                helper.make_tensor_value_info(
                    name, TensorProto.FLOAT, ["N", *self.shapes[name][1:]]
                )
                for name in outputs
            ],
            self.graph.initializers,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="modelyard"
        )
        checker.check_model(model, full_check=True)
        return _Converted(
            model,
            input_name,
            input_shape,
            [self.shapes[name] for name in outputs],
            [self.producers[name] for name in outputs],
            self.opencv_differs,
            len(layers),
            layers[-1].type if layers else "",
        )

    # -- bookkeeping ---------------------------------------------------------------------------

    def _declared_inputs(self) -> None:
        """Inputs declared by the net itself (``input:`` with ``input_shape`` or ``input_dim``)."""
        for index, name in enumerate(self.net.input):
            if self.net.input_shape:
                shape: Shape = tuple(self.net.input_shape[index].dim)
            else:
                shape = tuple(self.net.input_dim[4 * index : 4 * index + 4])
            self._add_input(name, shape)

    def _add_input(self, name: str, shape: Shape) -> None:
        shape = self.input_shape or shape
        if not shape:
            raise ConvertError(
                f"the input {name!r} has no shape", hint="pass --input-shape N,C,H,W"
            )
        self.blobs[name] = name
        self.used.add(name)
        self.shapes[name] = shape
        self.inputs.append((name, shape))

    def _bottom(self, layer: Any, index: int = 0) -> str:
        try:
            blob = layer.bottom[index]
            name = self.blobs[blob]
        except (IndexError, KeyError):
            raise ConvertError(
                f"layer {layer.name!r} reads a blob no layer before it makes"
            ) from None
        self.consumed.add(name)
        return name

    def _top(self, layer: Any, shape: Shape, index: int = 0) -> str:
        blob = layer.top[index]
        name = blob if blob not in self.used else f"{blob}/{layer.name}"
        self.used.add(name)
        self.blobs[blob] = name
        self.shapes[name] = shape
        self.producers[name] = layer.name
        return name

    def _const(self, layer: Any, suffix: str, array: Any) -> str:
        return self.graph.const(f"{layer.name}/{suffix}", array)

    def _node(self, op: str, inputs: list[str], outputs: list[str], **attributes: Any) -> None:
        self.graph.node(op, inputs, outputs, **attributes)

    def _blobs(self, layer: Any, count: int) -> list[Any]:
        found = self.weights.get(layer.name) or [_blob_array(blob) for blob in layer.blobs]
        if len(found) < count:
            raise ConvertError(
                f"layer {layer.name!r} ({layer.type}) needs {count} weight blob(s), "
                f"the caffemodel has {len(found)}"
            )
        return found

    def _layer(self, layer: Any) -> None:
        handler = _HANDLERS.get(layer.type)
        if handler is None:
            raise UnsupportedLayerError(
                f"layer {layer.name!r} has type {layer.type!r}, which modelyard does not convert",
                hint=f"supported types: {', '.join(sorted(_HANDLERS))}",
            )
        handler(self, layer)

    def _unary(self, layer: Any, op: str, **attributes: Any) -> None:
        source = self._bottom(layer)
        self._node(op, [source], [self._top(layer, self.shapes[source])], **attributes)

    # -- layers --------------------------------------------------------------------------------

    def input(self, layer: Any) -> None:
        shape = tuple(layer.input_param.shape[0].dim) if layer.input_param.shape else ()
        self._add_input(layer.top[0], shape)

    def convolution(self, layer: Any) -> None:
        self._convolution(layer, transposed=False)

    def deconvolution(self, layer: Any) -> None:
        self._convolution(layer, transposed=True)

    def _convolution(self, layer: Any, *, transposed: bool) -> None:
        param = layer.convolution_param
        if param.axis != 1:
            raise UnsupportedLayerError(
                f"layer {layer.name!r} ({layer.type}) has axis {param.axis}; only 1 is converted"
            )
        source = self._bottom(layer)
        n, _, height, width = self.shapes[source]
        kernel = _pair(param.kernel_size, param.kernel_h, param.kernel_w, layer, "kernel_size")
        stride = _pair(param.stride, param.stride_h, param.stride_w, layer, "stride", 1)
        pad = _pair(param.pad, param.pad_h, param.pad_w, layer, "pad", 0)
        dilation = _pair(param.dilation, 0, 0, layer, "dilation", 1)
        blobs = self._blobs(layer, 2 if param.bias_term else 1)
        inputs = [source, self._const(layer, "weight", blobs[0])]
        if param.bias_term:
            inputs.append(self._const(layer, "bias", blobs[1].ravel()))
        geometry = zip((height, width), kernel, stride, pad, dilation, strict=True)
        if transposed:
            size = [s * (extent - 1) + d * (k - 1) + 1 - 2 * p for extent, k, s, p, d in geometry]
        else:
            size = [
                (extent + 2 * p - (d * (k - 1) + 1)) // s + 1 for extent, k, s, p, d in geometry
            ]
        top = self._top(layer, (n, param.num_output, *size))
        self._node(
            "ConvTranspose" if transposed else "Conv",
            inputs,
            [top],
            kernel_shape=list(kernel),
            strides=list(stride),
            pads=[*pad, *pad],
            dilations=list(dilation),
            group=param.group,
        )

    def inner_product(self, layer: Any) -> None:
        param = layer.inner_product_param
        if param.axis != 1:
            raise UnsupportedLayerError(
                f"layer {layer.name!r} (InnerProduct) has axis {param.axis}; only 1 is converted"
            )
        source = self._bottom(layer)
        n = self.shapes[source][0]
        blobs = self._blobs(layer, 2 if param.bias_term else 1)
        weight = blobs[0].reshape(param.num_output, -1) if not param.transpose else blobs[0].T
        flat = f"{layer.name}/flat"
        self._node("Flatten", [source], [flat], axis=1)
        inputs = [flat, self._const(layer, "weight", weight.reshape(param.num_output, -1))]
        if param.bias_term:
            inputs.append(self._const(layer, "bias", blobs[1].ravel()))
        self._node("Gemm", inputs, [self._top(layer, (n, param.num_output))], transB=1)

    def pooling(self, layer: Any) -> None:
        param = layer.pooling_param
        source = self._bottom(layer)
        n, channels, height, width = self.shapes[source]
        if param.global_pooling and param.pool == _STOCHASTIC:
            top = self._top(layer, (n, channels, 1, 1))
            self._stochastic_pooling(layer, source, top, (height, width), (1, 1), (0, 0), [1, 1])
            return
        if param.global_pooling:
            op = "GlobalMaxPool" if param.pool == _MAX else "GlobalAveragePool"
            self._node(op, [source], [self._top(layer, (n, channels, 1, 1))])
            return
        kernel = _pair(
            [param.kernel_size] if param.kernel_size else [],
            param.kernel_h,
            param.kernel_w,
            layer,
            "kernel_size",
        )
        stride = _pair([param.stride], param.stride_h, param.stride_w, layer, "stride", 1)
        pad = _pair([param.pad], param.pad_h, param.pad_w, layer, "pad", 0)
        ceil = param.round_mode == _CEIL
        size = [
            _caffe_pooled(extent, k, s, p, ceil)
            for extent, k, s, p in zip((height, width), kernel, stride, pad, strict=True)
        ]
        top = self._top(layer, (n, channels, *size))
        if param.pool == _STOCHASTIC:
            self._stochastic_pooling(layer, source, top, kernel, stride, pad, size)
            return
        # Caffe averages over the window clipped to the padded input: declared pads count.
        self.graph.pool(
            source,
            top,
            maximum=param.pool == _MAX,
            extent=(height, width),
            kernel=kernel,
            stride=stride,
            pad=pad,
            size=size,
            count_pad=True,
        )

    def _stochastic_pooling(
        self,
        layer: Any,
        source: str,
        top: str,
        kernel: tuple[int, int],
        stride: tuple[int, int],
        pad: tuple[int, int],
        size: list[int],
    ) -> None:
        """Caffe's STOCHASTIC pooling at test time: each value weighted by its share of the
        window's sum, ``sum(x^2) / sum(x)`` (0 where the sum is not positive); a ratio of two
        averages over the same windows, clipped to the input as Caffe clips them."""
        import numpy as np

        if any(pad):
            raise UnsupportedLayerError(
                f"layer {layer.name!r} (Pooling) pools STOCHASTIC with a pad, which Caffe's "
                "test-time windows ignore; only unpadded stochastic pooling is converted"
            )
        self.opencv_differs.append(f"OpenCV does not run STOCHASTIC Pooling layer {layer.name!r}")
        name = layer.name
        extent = self.shapes[source][2:]
        self._node("Mul", [source, source], [f"{name}/squares"])
        for tensor in (source, f"{name}/squares"):
            self.graph.pool(
                tensor,
                f"{tensor}/{name}/mean",
                maximum=False,
                extent=extent,
                kernel=kernel,
                stride=stride,
                pad=pad,
                size=size,
                count_pad=False,
            )
        means, squares = f"{source}/{name}/mean", f"{name}/squares/{name}/mean"
        self._node("Div", [squares, means], [f"{name}/ratio"])
        zero = self._const(layer, "zero", np.float32(0))
        self._node("Greater", [means, zero], [f"{name}/positive"])
        self._node("Where", [f"{name}/positive", f"{name}/ratio", zero], [top])

    def relu(self, layer: Any) -> None:
        slope = layer.relu_param.negative_slope
        if slope:
            self._unary(layer, "LeakyRelu", alpha=slope)
        else:
            self._unary(layer, "Relu")

    def prelu(self, layer: Any) -> None:
        source = self._bottom(layer)
        slope = self._blobs(layer, 1)[0].ravel()
        shape = (1,) if layer.prelu_param.channel_shared else (slope.size, 1, 1)
        rank = len(self.shapes[source])
        slope = slope.reshape(shape[: max(1, rank - 1)])
        self._node(
            "PRelu",
            [source, self._const(layer, "slope", slope)],
            [self._top(layer, self.shapes[source])],
        )

    def softmax(self, layer: Any) -> None:
        self._unary(layer, "Softmax", axis=layer.softmax_param.axis)

    def batch_norm(self, layer: Any) -> None:
        import numpy as np

        source = self._bottom(layer)
        mean, variance, factor = self._blobs(layer, 3)[:3]
        scale = 0.0 if factor.ravel()[0] == 0 else 1.0 / factor.ravel()[0]
        channels = self.shapes[source][1]
        inputs = [
            source,
            self._const(layer, "gamma", np.ones(channels, np.float32)),
            self._const(layer, "beta", np.zeros(channels, np.float32)),
            self._const(layer, "mean", (mean.ravel() * scale).astype(np.float32)),
            self._const(layer, "var", (variance.ravel() * scale).astype(np.float32)),
        ]
        self._node(
            "BatchNormalization",
            inputs,
            [self._top(layer, self.shapes[source])],
            epsilon=layer.batch_norm_param.eps,
        )

    def scale(self, layer: Any) -> None:
        """Multiply by a factor over the axes from ``axis``: a learned blob spanning
        ``num_axes`` of them, or the second bottom; then add the learned bias, if any."""
        param = layer.scale_param
        source = self._bottom(layer)
        shape = self.shapes[source]
        axis = param.axis % len(shape)
        learned = len(layer.bottom) == 1
        blobs = self._blobs(layer, int(learned) + int(param.bias_term))
        if learned:
            spanned = shape[axis : len(shape) if param.num_axes == -1 else axis + param.num_axes]
        else:
            factor = self._bottom(layer, 1)
            spanned = self.shapes[factor]
        if tuple(spanned) != tuple(shape[axis : axis + len(spanned)]):
            raise ConvertError(
                f"layer {layer.name!r} (Scale) has a factor of shape {tuple(spanned)}, which "
                f"does not fit {shape} from axis {axis}"
            )
        # Trailing ones line the factor up with the axes from ``axis`` on.
        ones = [1] * (len(shape) - axis - len(spanned))
        if learned:
            factor = self._const(layer, "scale", blobs[0].reshape((*spanned, *ones)))
        else:
            aligned = f"{layer.name}/factor"
            keep = self._const(layer, "broadcast", int64([0] * len(spanned) + ones))
            self._node("Reshape", [factor, keep], [aligned])  # 0 keeps that dimension
            factor = aligned
        scaled = self._top(layer, shape)
        target = f"{layer.name}/scaled" if param.bias_term else scaled
        self._node("Mul", [source, factor], [target])
        if param.bias_term:
            if not learned:
                self.opencv_differs.append(
                    f"OpenCV adds the bias of two-bottom Scale layer {layer.name!r} otherwise"
                )
            bias = self._const(layer, "bias", blobs[-1].reshape((*spanned, *ones)))
            self._node("Add", [target, bias], [scaled])

    def eltwise(self, layer: Any) -> None:
        import numpy as np

        param = layer.eltwise_param
        sources = [self._bottom(layer, index) for index in range(len(layer.bottom))]
        top = self._top(layer, self.shapes[sources[0]])
        if param.operation == _SUM and param.coeff:
            if len(param.coeff) != len(sources):
                raise ConvertError(f"layer {layer.name!r} (Eltwise) needs one coeff per bottom")
            weighted = []
            for index, (source, coefficient) in enumerate(zip(sources, param.coeff, strict=True)):
                factor = self._const(layer, f"coeff{index}", np.float32(coefficient))
                weighted.append(f"{layer.name}/weighted{index}")
                self._node("Mul", [source, factor], [weighted[-1]])
            sources = weighted
        op = {_SUM: "Sum", _PROD: "Mul", _ELTWISE_MAX: "Max"}[param.operation]
        if op == "Mul":
            current = sources[0]
            for index, source in enumerate(sources[1:], start=1):
                output = top if index == len(sources) - 1 else f"{layer.name}/product{index}"
                self._node("Mul", [current, source], [output])
                current = output
        else:
            self._node(op, sources, [top])

    def concat(self, layer: Any) -> None:
        param = layer.concat_param
        axis = (
            param.axis
            if param.HasField("axis") or not param.HasField("concat_dim")
            else (param.concat_dim)
        )
        sources = [self._bottom(layer, index) for index in range(len(layer.bottom))]
        shape = list(self.shapes[sources[0]])
        shape[axis] = sum(self.shapes[source][axis] for source in sources)
        self._node("Concat", sources, [self._top(layer, tuple(shape))], axis=axis)

    def dropout(self, layer: Any) -> None:
        self._unary(layer, "Identity")

    def flatten(self, layer: Any) -> None:
        param = layer.flatten_param
        source = self._bottom(layer)
        shape = self.shapes[source]
        start, end = param.axis % len(shape), param.end_axis % len(shape)
        if start == 0:
            raise UnsupportedLayerError(
                f"layer {layer.name!r} (Flatten) flattens the batch axis, which is not converted"
            )
        flat = (*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])
        target = self._const(layer, "shape", int64([0, *flat[1:]]))
        self._node("Reshape", [source, target], [self._top(layer, flat)])

    def lrn(self, layer: Any) -> None:
        param = layer.lrn_param
        if param.norm_region != _ACROSS_CHANNELS:
            self._lrn_within_channel(layer)
            return
        if param.k != 1:
            self.opencv_differs.append(f"OpenCV ignores the k of LRN layer {layer.name!r}")
        self._unary(
            layer, "LRN", size=param.local_size, alpha=param.alpha, beta=param.beta, bias=param.k
        )

    def _lrn_within_channel(self, layer: Any) -> None:
        """``x * (1 + alpha * mean(x^2))^-beta``, the mean over a ``local_size`` square around
        each value, zeros past the edges counted (Caffe builds it of pooling and power)."""
        import numpy as np

        param = layer.lrn_param
        if param.local_size % 2 == 0:
            raise ConvertError(f"layer {layer.name!r} (LRN) needs an odd local_size")
        source = self._bottom(layer)
        name, half = layer.name, (param.local_size - 1) // 2
        self._node("Mul", [source, source], [f"{name}/squares"])
        self._node(
            "AveragePool",
            [f"{name}/squares"],
            [f"{name}/mean"],
            kernel_shape=[param.local_size] * 2,
            pads=[half] * 4,
            count_include_pad=1,
        )
        self._node(
            "Mul",
            [f"{name}/mean", self._const(layer, "alpha", np.float32(param.alpha))],
            [f"{name}/scaled"],
        )
        self._node(
            "Add", [f"{name}/scaled", self._const(layer, "one", np.float32(1))], [f"{name}/shifted"]
        )
        self._node(
            "Pow",
            [f"{name}/shifted", self._const(layer, "power", np.float32(-param.beta))],
            [f"{name}/factor"],
        )
        self._node("Mul", [source, f"{name}/factor"], [self._top(layer, self.shapes[source])])

    def power(self, layer: Any) -> None:
        import numpy as np

        param = layer.power_param
        source = self._bottom(layer)
        top = self._top(layer, self.shapes[source])
        scaled = f"{layer.name}/scaled"
        shifted = f"{layer.name}/shifted"
        self._node("Mul", [source, self._const(layer, "scale", np.float32(param.scale))], [scaled])
        self._node("Add", [scaled, self._const(layer, "shift", np.float32(param.shift))], [shifted])
        self._node("Pow", [shifted, self._const(layer, "power", np.float32(param.power))], [top])

    def split(self, layer: Any) -> None:
        source = self._bottom(layer)
        for index in range(len(layer.top)):
            self._node("Identity", [source], [self._top(layer, self.shapes[source], index)])

    def slice(self, layer: Any) -> None:
        param = layer.slice_param
        source = self._bottom(layer)
        shape = self.shapes[source]
        axis = (
            param.axis
            if param.HasField("axis") or not param.HasField("slice_dim")
            else param.slice_dim
        ) % len(shape)
        count = len(layer.top)
        if param.slice_point:
            bounds = [0, *param.slice_point, shape[axis]]
        elif shape[axis] % count == 0:
            bounds = [shape[axis] // count * index for index in range(count + 1)]
        else:
            raise ConvertError(
                f"layer {layer.name!r} (Slice) cannot cut {shape[axis]} into {count} equal parts"
            )
        sizes = [end - start for start, end in itertools.pairwise(bounds)]
        if len(sizes) != count or min(sizes) < 1:
            raise ConvertError(f"layer {layer.name!r} (Slice) has slice points that do not fit")
        tops = [
            self._top(layer, (*shape[:axis], size, *shape[axis + 1 :]), index)
            for index, size in enumerate(sizes)
        ]
        self._node("Split", [source, self._const(layer, "split", int64(sizes))], tops, axis=axis)

    def reshape(self, layer: Any) -> None:
        """Replace the axes ``axis`` to ``axis + num_axes`` (all from ``axis`` when -1) by the
        given dims: 0 copies the input's dimension there, -1 takes what is left."""
        import numpy as np

        param = layer.reshape_param
        source = self._bottom(layer)
        shape = self.shapes[source]
        start = param.axis if param.axis >= 0 else len(shape) + param.axis + 1
        if param.axis < 0:
            self.opencv_differs.append(
                f"OpenCV refuses the negative axis of Reshape layer {layer.name!r}"
            )
        end = len(shape) if param.num_axes == -1 else start + param.num_axes
        if not 0 <= start <= end <= len(shape):
            raise ConvertError(
                f"layer {layer.name!r} (Reshape) has axis {param.axis} and num_axes "
                f"{param.num_axes}, which do not fit {shape}"
            )
        dims = [
            shape[start + index] if dim == 0 else dim for index, dim in enumerate(param.shape.dim)
        ]
        wanted = [*shape[:start], *dims, *shape[end:]]
        try:
            reshaped = np.empty(shape, dtype=np.int8).reshape(wanted).shape
        except ValueError:
            raise ConvertError(
                f"layer {layer.name!r} (Reshape) cannot make {shape} into {list(param.shape.dim)}"
            ) from None
        if reshaped[0] != shape[0]:
            raise UnsupportedLayerError(
                f"layer {layer.name!r} (Reshape) changes the batch axis, which is not converted"
            )
        target = self._const(layer, "shape", int64([0, *reshaped[1:]]))
        self._node("Reshape", [source, target], [self._top(layer, tuple(reshaped))])

    def crop(self, layer: Any) -> None:
        param = layer.crop_param
        source, reference = self._bottom(layer), self._bottom(layer, 1)
        shape, like = self.shapes[source], self.shapes[reference]
        axis = param.axis % len(shape)
        axes = list(range(axis, len(shape)))
        offsets = list(param.offset) or [0]
        if len(offsets) == 1:
            offsets = offsets * len(axes)
        if len(offsets) != len(axes):
            raise ConvertError(f"layer {layer.name!r} (Crop) needs one offset or one per axis")
        ends = [offset + like[index] for offset, index in zip(offsets, axes, strict=True)]
        if any(end > shape[index] for end, index in zip(ends, axes, strict=True)):
            raise ConvertError(f"layer {layer.name!r} (Crop) crops past the end of {shape}")
        cropped = (*shape[:axis], *like[axis:])
        inputs = [
            source,
            self._const(layer, "starts", int64(offsets)),
            self._const(layer, "ends", int64(ends)),
            self._const(layer, "axes", int64(axes)),
        ]
        self._node("Slice", inputs, [self._top(layer, cropped)])


def _in_test_phase(layer: Any) -> bool:
    """Whether Caffe builds ``layer`` for inference (its include/exclude rules by phase)."""
    test = 1
    if layer.include:
        return any(not rule.HasField("phase") or rule.phase == test for rule in layer.include)
    return not any(rule.HasField("phase") and rule.phase == test for rule in layer.exclude)


def _pair(
    values: Sequence[int], first: int, second: int, layer: Any, name: str, default: int = -1
) -> tuple[int, int]:
    """A 2-D option from Caffe's forms: one value, one per axis, or the ``_h``/``_w`` fields."""
    if first or second:
        return first, second
    values = list(values)
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    if not values and default >= 0:
        return default, default
    raise ConvertError(f"layer {layer.name!r} ({layer.type}) has no usable {name}")


def _caffe_pooled(extent: int, kernel: int, stride: int, pad: int, ceil: bool) -> int:
    """Caffe's pooled size: as ``pooled_size``, but no window may start inside the end pad."""
    size = pooled_size(extent, kernel, stride, pad, ceil=ceil)
    if pad and (size - 1) * stride >= extent + pad:
        size -= 1
    return size


_MAX, _AVE, _STOCHASTIC = 0, 1, 2  # PoolingParameter.PoolMethod
_CEIL = 0  # PoolingParameter.RoundMode
_PROD, _SUM, _ELTWISE_MAX = 0, 1, 2  # EltwiseParameter.EltwiseOp
_ACROSS_CHANNELS = 0  # LRNParameter.NormRegion

_HANDLERS: dict[str, Callable[[_Converter, Any], None]] = {
    "Input": _Converter.input,
    "Convolution": _Converter.convolution,
    "Deconvolution": _Converter.deconvolution,
    "InnerProduct": _Converter.inner_product,
    "Pooling": _Converter.pooling,
    "ReLU": _Converter.relu,
    "PReLU": _Converter.prelu,
    "Sigmoid": lambda self, layer: self._unary(layer, "Sigmoid"),
    "TanH": lambda self, layer: self._unary(layer, "Tanh"),
    "Softmax": _Converter.softmax,
    "BatchNorm": _Converter.batch_norm,
    "Scale": _Converter.scale,
    "Eltwise": _Converter.eltwise,
    "Concat": _Converter.concat,
    "Dropout": _Converter.dropout,
    "Flatten": _Converter.flatten,
    "LRN": _Converter.lrn,
    "Power": _Converter.power,
    "Split": _Converter.split,
    "Slice": _Converter.slice,
    "Reshape": _Converter.reshape,
    "Crop": _Converter.crop,
}


def _check(converted: _Converted, prototxt: Path, caffemodel: Path) -> str:
    """Run the ONNX model once and, with OpenCV 4 installed, compare it with Caffe's forward."""
    import importlib.util

    import numpy as np

    from modelyard.learn.backends.onnx import OnnxModel

    shape = converted.input_shape
    sample = np.random.default_rng(_CHECK_SEED).normal(size=shape).astype(np.float32)
    runner = OnnxModel(converted.model.SerializeToString(), "regression")
    try:
        outputs = runner.outputs(sample)
    except Exception as error:  # onnxruntime's errors have no common base
        raise ConvertError(f"onnxruntime cannot run the converted model: {error}") from error
    ran = f"onnxruntime ran it on a random input {shape}; not compared with Caffe"
    if importlib.util.find_spec("cv2") is None:
        return f"{ran} (OpenCV 4 is not installed)"
    import cv2

    if int(cv2.__version__.split(".")[0]) != 4:
        return f"{ran} (OpenCV {cv2.__version__} has no Caffe reader)"
    if converted.opencv_differs:
        return f"{ran} ({'; '.join(converted.opencv_differs)})"
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setInput(sample)
    names = list(outputs)
    expected = net.forward(converted.output_layers)
    difference = 0.0
    for name, reference in zip(names, expected, strict=True):
        got = outputs[name].reshape(reference.shape)
        scale = np.maximum(1.0, np.abs(reference))
        difference = max(difference, float((np.abs(got - reference) / scale).max()))
    if difference > TOLERANCE:
        raise ParityError(
            f"the ONNX model disagrees with OpenCV's Caffe forward by {difference:.3g}",
            hint=f"nothing was written; the tolerance is {TOLERANCE}",
        )
    return (
        f"outputs match OpenCV {cv2.__version__}'s Caffe forward within {TOLERANCE:g} "
        f"(largest difference {difference:.2g}) on a random input {shape}"
    )
