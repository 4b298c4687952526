"""Make the MXNet fixtures of tests/convert (run once, by real MXNet; the tests never import it).

MXNet 1.9.1 imports only with numpy < 1.24, so it runs in a venv of its own:

    python3 -m venv /tmp/mxvenv
    /tmp/mxvenv/bin/pip install "numpy<1.24" "mxnet==1.9.1"
    /tmp/mxvenv/bin/python scripts/mxnet_fixtures.py tests/convert/fixtures/mxnet

Writes a model-zoo style checkpoint (``Module.save_checkpoint``), a Gluon
``HybridBlock.export``, one small checkpoint per operator variant (gelu, BatchNorm on other
axes, Reshape ``reverse``, bilinear UpSampling), an NDArray list of every dtype, and MXNet's
outputs for seeded inputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mxnet as mx
import numpy as np

SHAPE = (2, 3, 9, 9)
SMALL = (2, 3, 5, 4)


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


def gluon_sequence(out: Path) -> None:
    """A Gluon block over (batch, steps, features): Dense without flattening, GELU, BatchNorm
    over the features (``axis=-1``), exported as ``gluonseq-symbol.json`` + ``-0000.params``."""
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(
        nn.Dense(6, flatten=False),
        nn.GELU(),
        nn.BatchNorm(axis=-1, epsilon=1e-3),
        nn.Dense(3, flatten=False),
    )
    mx.random.seed(9)
    net.initialize(mx.init.Uniform(0.5))
    net.hybridize()
    rng = np.random.default_rng(9)
    batch_norm = net[2]
    batch_norm.gamma.set_data(mx.nd.array(rng.normal(size=6)))
    batch_norm.beta.set_data(mx.nd.array(rng.normal(size=6)))
    batch_norm.running_mean.set_data(mx.nd.array(rng.normal(size=6)))
    batch_norm.running_var.set_data(mx.nd.array(rng.uniform(0.5, 2, size=6)))
    sample = (rng.normal(size=(2, 4, 5)) * 2).astype(np.float32)
    output = net(mx.nd.array(sample))
    net.export(str(out / "gluonseq"), epoch=0)
    np.savez(out / "gluonseq-io.npz", input=sample, output=output.asnumpy())


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
    gamma = np.random.default_rng(3).uniform(0.1, 0.5, size=3)
    sample = np.random.default_rng(4).normal(size=SHAPE).astype(np.float32)
    _checkpoint(out / "ops", net, sample, seed=3, weights={"prelu_gamma": gamma})


def _checkpoint(
    prefix: Path,
    net: mx.sym.Symbol,
    sample: np.ndarray,
    *,
    seed: int,
    weights: dict[str, np.ndarray],
) -> None:
    """``net`` on ``data`` (no label), its weights drawn by ``seed`` then overwritten by
    ``weights``: ``PREFIX-symbol.json``, ``PREFIX-0000.params`` and ``PREFIX-io.npz``."""
    module = mx.mod.Module(net, data_names=["data"], label_names=None)
    module.bind(data_shapes=[("data", sample.shape)], for_training=False)
    mx.random.seed(seed)
    module.init_params(mx.init.Uniform(0.5))
    args, auxs = module.get_params()
    for name, value in weights.items():
        (args if name in args else auxs)[name][:] = value
    module.set_params(args, auxs)
    module.save_checkpoint(str(prefix), 0)
    module.forward(mx.io.DataBatch([mx.nd.array(sample)]), is_train=False)
    output = module.get_outputs()[0].asnumpy()
    np.savez(f"{prefix}-io.npz", input=sample, output=output)


def gelu(out: Path) -> None:
    """``LeakyReLU(act_type="gelu")`` alone, on values wide enough to tell erf from tanh."""
    net = mx.sym.LeakyReLU(mx.sym.Variable("data"), act_type="gelu", name="gelu")
    sample = (np.random.default_rng(5).normal(size=SMALL) * 3).astype(np.float32)
    _checkpoint(out / "gelu", net, sample, seed=5, weights={})


def batch_norm_axes(out: Path) -> None:
    """BatchNorm over the last axis (own gamma), then over axis 2 (``fix_gamma``)."""
    net = mx.sym.BatchNorm(
        mx.sym.Variable("data"), axis=-1, fix_gamma=False, eps=1e-3, name="bn_last"
    )
    net = mx.sym.BatchNorm(net, axis=2, eps=1e-4, name="bn_rows")
    rng = np.random.default_rng(6)
    weights = {
        "bn_last_gamma": rng.normal(size=4),
        "bn_last_beta": rng.normal(size=4),
        "bn_last_moving_mean": rng.normal(size=4),
        "bn_last_moving_var": rng.uniform(0.5, 2, size=4),
        "bn_rows_gamma": rng.normal(size=5),
        "bn_rows_beta": rng.normal(size=5),
        "bn_rows_moving_mean": rng.normal(size=5),
        "bn_rows_moving_var": rng.uniform(0.5, 2, size=5),
    }
    sample = rng.normal(size=SMALL).astype(np.float32)
    _checkpoint(out / "bnaxis", net, sample, seed=6, weights=weights)


def reshape_reverse(out: Path) -> None:
    """Reshape with ``reverse=True``: codes 0, -1, -3 and -4 read from the right."""
    net = mx.sym.Reshape(mx.sym.Variable("data"), shape=(0, -1), reverse=True, name="r1")
    net = mx.sym.Reshape(net, shape=(-1, 0), reverse=True, name="r2")
    net = mx.sym.Reshape(net, shape=(-1, 5, -4, 0), reverse=True, name="r3")
    net = mx.sym.Reshape(net, shape=(-3, 0), reverse=True, name="r4")
    sample = np.random.default_rng(7).normal(size=SMALL).astype(np.float32)
    _checkpoint(out / "reshape", net, sample, seed=7, weights={})


def bilinear_upsampling(out: Path) -> None:
    """UpSampling ``sample_type="bilinear"`` by 2 then by 3, as MXNet's symbol makes it: a
    weight input ``NAME_weight`` of shape (channels, 1, k, k), here random (not the bilinear
    kernel, whose symmetry would hide a flipped kernel)."""
    data = mx.sym.Variable("data")
    net = mx.sym.UpSampling(data, scale=2, sample_type="bilinear", num_filter=2, name="up2")
    net = mx.sym.UpSampling(net, scale=3, sample_type="bilinear", num_filter=2, name="up3")
    rng = np.random.default_rng(8)
    weights = {
        "up2_weight": rng.normal(size=(2, 1, 4, 4)),
        "up3_weight": rng.normal(size=(2, 1, 5, 5)),
    }
    sample = rng.normal(size=(1, 2, 3, 3)).astype(np.float32)
    _checkpoint(out / "bilinear", net, sample, seed=8, weights=weights)


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
    gluon_sequence(out)
    operators(out)
    gelu(out)
    batch_norm_axes(out)
    reshape_reverse(out)
    bilinear_upsampling(out)
    every_dtype(out)


if __name__ == "__main__":
    main()
