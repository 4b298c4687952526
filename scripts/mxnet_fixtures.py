"""Make the MXNet fixtures of tests/convert (run once, by real MXNet; the tests never import it).

MXNet 1.9.1 imports only with numpy < 1.24, so it runs in a venv of its own:

    python3 -m venv /tmp/mxvenv
    /tmp/mxvenv/bin/pip install "numpy<1.24" "mxnet==1.9.1"
    /tmp/mxvenv/bin/python scripts/mxnet_fixtures.py tests/convert/fixtures/mxnet

Writes a model-zoo style checkpoint (``Module.save_checkpoint``), a Gluon
``HybridBlock.export``, an NDArray list of every dtype, and MXNet's outputs for seeded inputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mxnet as mx
import numpy as np

SHAPE = (2, 3, 9, 9)


def zoo_checkpoint(out: Path) -> None:
    """A small classic CNN (symbol API): ``zoo-symbol.json`` and ``zoo-0000.params``."""
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data, num_filter=4, kernel=(3, 3), pad=(1, 1), name="conv1")
    net = mx.sym.BatchNorm(net, fix_gamma=False, eps=1e-3, name="bn1")
    net = mx.sym.Activation(net, act_type="relu", name="relu1")
    net = mx.sym.Pooling(
        net,
        pool_type="max",
        kernel=(3, 3),
        stride=(2, 2),
        pad=(1, 1),
        pooling_convention="full",
        name="pool1",
    )
    branch = mx.sym.Convolution(net, num_filter=4, kernel=(1, 1), no_bias=True, name="conv2")
    branch = mx.sym.LeakyReLU(branch, act_type="leaky", slope=0.1, name="leaky")
    net = mx.sym.elemwise_add(net, branch, name="add")
    net = mx.sym.Concat(net, branch, dim=1, name="concat")
    net = mx.sym.Pooling(
        net,
        pool_type="avg",
        kernel=(2, 2),
        stride=(2, 2),
        pooling_convention="full",
        count_include_pad=False,
        name="pool2",
    )
    net = mx.sym.Dropout(net, p=0.5, name="drop")
    net = mx.sym.Flatten(net, name="flatten")
    net = mx.sym.FullyConnected(net, num_hidden=5, name="fc")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    module = mx.mod.Module(net, data_names=["data"], label_names=["softmax_label"])
    module.bind(data_shapes=[("data", SHAPE)], for_training=False)
    mx.random.seed(0)
    module.init_params(mx.init.Uniform(0.5))
    args, auxs = module.get_params()
    rng = np.random.default_rng(0)
    auxs["bn1_moving_mean"][:] = rng.normal(size=4)
    auxs["bn1_moving_var"][:] = rng.uniform(0.5, 2, size=4)
    module.set_params(args, auxs)
    module.save_checkpoint(str(out / "zoo"), 0)
    sample = rng.normal(size=SHAPE).astype(np.float32)
    module.forward(mx.io.DataBatch([mx.nd.array(sample)]), is_train=False)
    np.savez(out / "zoo-io.npz", input=sample, output=module.get_outputs()[0].asnumpy())


def gluon_export(out: Path) -> None:
    """A Gluon ``HybridSequential``, exported as ``gluon-symbol.json`` + ``gluon-0000.params``."""
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(
        nn.Conv2D(6, kernel_size=3, strides=2, padding=1, activation="relu"),
        nn.BatchNorm(),
        nn.AvgPool2D(pool_size=2, strides=1),
        nn.GlobalMaxPool2D(),
        nn.Dense(7, activation="tanh"),
        nn.Dense(3),
    )
    mx.random.seed(1)
    net.initialize(mx.init.Uniform(0.5))
    net.hybridize()
    rng = np.random.default_rng(1)
    sample = rng.normal(size=SHAPE).astype(np.float32)
    output = net(mx.nd.array(sample))
    net.export(str(out / "gluon"), epoch=0)
    np.savez(out / "gluon-io.npz", input=sample, output=output.asnumpy())


def operators(out: Path) -> None:
    """The remaining converted operators in one symbol graph, as ``ops-*`` files."""
    data = mx.sym.Variable("data")
    up = mx.sym.UpSampling(data, scale=2, sample_type="nearest", num_args=1, name="up")
    deconv = mx.sym.Deconvolution(
        data, num_filter=3, kernel=(3, 3), stride=(2, 2), pad=(1, 1), adj=(1, 1), name="deconv"
    )
    net = mx.sym.broadcast_mul(up, deconv, name="mul")
    net = mx.sym.Crop(net, data, offset=(1, 2), num_args=2, name="crop")
    net = mx.sym.LeakyReLU(net, act_type="prelu", name="prelu")
    net = mx.sym.LeakyReLU(net, act_type="elu", slope=0.3, name="elu")
    net = mx.sym.L2Normalization(net, mode="channel", name="l2")
    net = mx.sym.slice_axis(net, axis=2, begin=1, end=-1, name="slice")
    net = mx.sym.clip(net, a_min=-0.2, a_max=0.3, name="clip")
    net = mx.sym.transpose(net, axes=(0, 2, 3, 1), name="transpose")
    net = mx.sym.Reshape(net, shape=(0, -3, -4, 1, -1), name="reshape")
    net = mx.sym.broadcast_sub(mx.sym.ones_like(net) * 0 + 1.5, net, name="rminus")
    net = (1.5 - net) / 4.0 + 0.25
    net = mx.sym.mean(net, axis=1, keepdims=False, name="mean")
    net = mx.sym.softmax(net, axis=-1, name="softmax")
    module = mx.mod.Module(net, data_names=["data"], label_names=None)
    module.bind(data_shapes=[("data", SHAPE)], for_training=False)
    mx.random.seed(3)
    module.init_params(mx.init.Uniform(0.5))
    args, auxs = module.get_params()
    args["prelu_gamma"][:] = np.random.default_rng(3).uniform(0.1, 0.5, size=3)
    module.set_params(args, auxs)
    module.save_checkpoint(str(out / "ops"), 0)
    sample = np.random.default_rng(4).normal(size=SHAPE).astype(np.float32)
    module.forward(mx.io.DataBatch([mx.nd.array(sample)]), is_train=False)
    np.savez(out / "ops-io.npz", input=sample, output=module.get_outputs()[0].asnumpy())


def every_dtype(out: Path) -> None:
    """``mx.nd.save`` of one array per dtype, and the same values as numpy arrays."""
    rng = np.random.default_rng(2)
    arrays = {
        dtype: (rng.normal(size=(2, 3)) * 10).astype(dtype)
        for dtype in ("float32", "float64", "float16", "uint8", "int8", "int32", "int64")
    }
    arrays["bool"] = rng.integers(0, 2, size=(4,)).astype(bool)
    mx.nd.save(
        str(out / "dtypes.params"),
        {name: mx.nd.array(a, dtype=a.dtype) for name, a in arrays.items()},
    )
    np.savez(out / "dtypes-expected.npz", **arrays)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    zoo_checkpoint(out)
    gluon_export(out)
    operators(out)
    every_dtype(out)


if __name__ == "__main__":
    main()
