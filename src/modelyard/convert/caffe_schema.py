"""The part of Caffe's file format modelyard reads, as protobuf messages built at run time.

Caffe nets (``.prototxt``, protobuf text) and weights (``.caffemodel``, protobuf binary) are
``caffe.NetParameter`` messages. Only the fields the importer uses are declared here, by the
names and numbers Caffe gives them; the protobuf parsers skip every other field, and the
importer refuses layer types it does not map. Weights of old nets (``V1LayerParameter``,
field ``layers``) are read by layer name too.
"""

from __future__ import annotations

import functools
from typing import Any

# (field, number, type, label); type: a scalar name, ``.Message`` or ``enum:Enum``.
_Field = tuple[str, int, str, str]
_O, _R = "optional", "repeated"

# Enums by the message they are declared in ("": the file), as in Caffe, whose enum value names
# repeat across messages. Fields naming a ``DEFAULT``/``CAFFE``/``CUDNN`` engine are not read.
_ENUMS: dict[tuple[str, str], list[str]] = {
    ("", "Phase"): ["TRAIN", "TEST"],
    ("PoolingParameter", "PoolMethod"): ["MAX", "AVE", "STOCHASTIC"],
    ("PoolingParameter", "RoundMode"): ["CEIL", "FLOOR"],
    ("EltwiseParameter", "EltwiseOp"): ["PROD", "SUM", "MAX"],
    ("LRNParameter", "NormRegion"): ["ACROSS_CHANNELS", "WITHIN_CHANNEL"],
}

_MESSAGES: dict[str, list[_Field]] = {
    "BlobShape": [("dim", 1, "int64", _R)],
    "BlobProto": [
        ("shape", 7, ".BlobShape", _O),
        ("data", 5, "float", _R),
        ("double_data", 8, "double", _R),
        ("num", 1, "int32", _O),
        ("channels", 2, "int32", _O),
        ("height", 3, "int32", _O),
        ("width", 4, "int32", _O),
    ],
    "NetStateRule": [("phase", 1, "enum:Phase", _O)],
    "InputParameter": [("shape", 1, ".BlobShape", _R)],
    "ConvolutionParameter": [
        ("num_output", 1, "uint32", _O),
        ("bias_term", 2, "bool", _O),
        ("pad", 3, "uint32", _R),
        ("kernel_size", 4, "uint32", _R),
        ("group", 5, "uint32", _O),
        ("stride", 6, "uint32", _R),
        ("pad_h", 9, "uint32", _O),
        ("pad_w", 10, "uint32", _O),
        ("kernel_h", 11, "uint32", _O),
        ("kernel_w", 12, "uint32", _O),
        ("stride_h", 13, "uint32", _O),
        ("stride_w", 14, "uint32", _O),
        ("axis", 16, "int32", _O),
        ("dilation", 18, "uint32", _R),
    ],
    "InnerProductParameter": [
        ("num_output", 1, "uint32", _O),
        ("bias_term", 2, "bool", _O),
        ("axis", 5, "int32", _O),
        ("transpose", 6, "bool", _O),
    ],
    "PoolingParameter": [
        ("pool", 1, "enum:PoolingParameter.PoolMethod", _O),
        ("kernel_size", 2, "uint32", _O),
        ("stride", 3, "uint32", _O),
        ("pad", 4, "uint32", _O),
        ("kernel_h", 5, "uint32", _O),
        ("kernel_w", 6, "uint32", _O),
        ("stride_h", 7, "uint32", _O),
        ("stride_w", 8, "uint32", _O),
        ("pad_h", 9, "uint32", _O),
        ("pad_w", 10, "uint32", _O),
        ("global_pooling", 12, "bool", _O),
        ("round_mode", 13, "enum:PoolingParameter.RoundMode", _O),
    ],
    "BatchNormParameter": [
        ("use_global_stats", 1, "bool", _O),
        ("eps", 3, "float", _O),
    ],
    "ScaleParameter": [
        ("axis", 1, "int32", _O),
        ("num_axes", 2, "int32", _O),
        ("bias_term", 4, "bool", _O),
    ],
    "EltwiseParameter": [
        ("operation", 1, "enum:EltwiseParameter.EltwiseOp", _O),
        ("coeff", 2, "float", _R),
    ],
    "ConcatParameter": [("concat_dim", 1, "uint32", _O), ("axis", 2, "int32", _O)],
    "SoftmaxParameter": [("axis", 2, "int32", _O)],
    "ReLUParameter": [("negative_slope", 1, "float", _O)],
    "DropoutParameter": [("dropout_ratio", 1, "float", _O)],
    "FlattenParameter": [("axis", 1, "int32", _O), ("end_axis", 2, "int32", _O)],
    "LRNParameter": [
        ("local_size", 1, "uint32", _O),
        ("alpha", 2, "float", _O),
        ("beta", 3, "float", _O),
        ("norm_region", 4, "enum:LRNParameter.NormRegion", _O),
        ("k", 5, "float", _O),
    ],
    "PowerParameter": [
        ("power", 1, "float", _O),
        ("scale", 2, "float", _O),
        ("shift", 3, "float", _O),
    ],
    "PReLUParameter": [("channel_shared", 2, "bool", _O)],
    "ReshapeParameter": [
        ("shape", 1, ".BlobShape", _O),
        ("axis", 2, "int32", _O),
        ("num_axes", 3, "int32", _O),
    ],
    "SliceParameter": [
        ("slice_dim", 1, "uint32", _O),
        ("slice_point", 2, "uint32", _R),
        ("axis", 3, "int32", _O),
    ],
    "CropParameter": [("axis", 1, "int32", _O), ("offset", 2, "uint32", _R)],
    "LayerParameter": [
        ("name", 1, "string", _O),
        ("type", 2, "string", _O),
        ("bottom", 3, "string", _R),
        ("top", 4, "string", _R),
        ("blobs", 7, ".BlobProto", _R),
        ("include", 8, ".NetStateRule", _R),
        ("exclude", 9, ".NetStateRule", _R),
        ("phase", 10, "enum:Phase", _O),
        ("concat_param", 104, ".ConcatParameter", _O),
        ("convolution_param", 106, ".ConvolutionParameter", _O),
        ("dropout_param", 108, ".DropoutParameter", _O),
        ("eltwise_param", 110, ".EltwiseParameter", _O),
        ("inner_product_param", 117, ".InnerProductParameter", _O),
        ("lrn_param", 118, ".LRNParameter", _O),
        ("pooling_param", 121, ".PoolingParameter", _O),
        ("power_param", 122, ".PowerParameter", _O),
        ("relu_param", 123, ".ReLUParameter", _O),
        ("softmax_param", 125, ".SoftmaxParameter", _O),
        ("slice_param", 126, ".SliceParameter", _O),
        ("prelu_param", 131, ".PReLUParameter", _O),
        ("reshape_param", 133, ".ReshapeParameter", _O),
        ("flatten_param", 135, ".FlattenParameter", _O),
        ("batch_norm_param", 139, ".BatchNormParameter", _O),
        ("scale_param", 142, ".ScaleParameter", _O),
        ("input_param", 143, ".InputParameter", _O),
        ("crop_param", 144, ".CropParameter", _O),
    ],
    # Old nets' layers: only their names and weights are read.
    "V1LayerParameter": [("name", 4, "string", _O), ("blobs", 6, ".BlobProto", _R)],
    "NetParameter": [
        ("name", 1, "string", _O),
        ("layers", 2, ".V1LayerParameter", _R),
        ("input", 3, "string", _R),
        ("input_dim", 4, "int64", _R),
        ("input_shape", 8, ".BlobShape", _R),
        ("layer", 100, ".LayerParameter", _R),
    ],
}

# Defaults that differ from protobuf's zero values, as Caffe declares them.
_DEFAULTS: dict[tuple[str, str], str] = {
    ("ConvolutionParameter", "bias_term"): "true",
    ("ConvolutionParameter", "group"): "1",
    ("ConvolutionParameter", "axis"): "1",
    ("InnerProductParameter", "bias_term"): "true",
    ("InnerProductParameter", "axis"): "1",
    ("PoolingParameter", "stride"): "1",
    ("BatchNormParameter", "eps"): "1e-5",
    ("ScaleParameter", "axis"): "1",
    ("ScaleParameter", "num_axes"): "1",
    ("EltwiseParameter", "operation"): "SUM",
    ("ConcatParameter", "concat_dim"): "1",
    ("ConcatParameter", "axis"): "1",
    ("SoftmaxParameter", "axis"): "1",
    ("DropoutParameter", "dropout_ratio"): "0.5",
    ("FlattenParameter", "axis"): "1",
    ("FlattenParameter", "end_axis"): "-1",
    ("LRNParameter", "local_size"): "5",
    ("LRNParameter", "alpha"): "1",
    ("LRNParameter", "beta"): "0.75",
    ("LRNParameter", "k"): "1",
    ("PowerParameter", "power"): "1",
    ("PowerParameter", "scale"): "1",
    ("ReshapeParameter", "num_axes"): "-1",
    ("SliceParameter", "slice_dim"): "1",
    ("SliceParameter", "axis"): "1",
    ("CropParameter", "axis"): "2",
}


@functools.cache
def net_parameter_class() -> Any:
    """The ``caffe.NetParameter`` message class (parse with ``text_format`` or ``FromString``)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    types = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="modelyard_caffe.proto", package="caffe", syntax="proto2"
    )
    _add_enums(file, "")
    for message_name, fields in _MESSAGES.items():
        message = file.message_type.add(name=message_name)
        _add_enums(message, message_name)
        for field_name, number, kind, label in fields:
            field = message.field.add(name=field_name, number=number)
            field.label = types.LABEL_REPEATED if label == _R else types.LABEL_OPTIONAL
            if kind.startswith("."):
                field.type, field.type_name = types.TYPE_MESSAGE, f".caffe{kind}"
            elif kind.startswith("enum:"):
                field.type, field.type_name = types.TYPE_ENUM, f".caffe.{kind[5:]}"
            else:
                field.type = getattr(types, f"TYPE_{kind.upper()}")
            default = _DEFAULTS.get((message_name, field_name))
            if default is not None:
                field.default_value = default
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("caffe.NetParameter"))


def _add_enums(container: Any, scope: str) -> None:
    """Declare the enums of ``scope`` (a message name, or ``""`` for the file) in ``container``."""
    for (enum_scope, name), values in _ENUMS.items():
        if enum_scope == scope:
            enum = container.enum_type.add(name=name)
            for number, value in enumerate(values):
                enum.value.add(name=value, number=number)
