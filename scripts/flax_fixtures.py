"""Make the Flax fixtures of tests/scan/formats (run once, by real Flax; the tests never import
it).

Flax and JAX are too heavy for the project's environment, so they run in a venv of its own:

    python3 -m venv /tmp/flaxvenv
    /tmp/flaxvenv/bin/pip install flax
    /tmp/flaxvenv/bin/python scripts/flax_fixtures.py tests/scan/formats/fixtures/flax

Writes the parameters of a small MLP (``mlp.msgpack``) and a state with NumPy scalars, complex
numbers and bfloat16 arrays (``state.msgpack``), each as ``flax.serialization.to_bytes`` writes
them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax import serialization


class Mlp(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(3)(nn.relu(nn.Dense(8)(x)))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    params = Mlp().init(jax.random.PRNGKey(0), jnp.ones((1, 4)))
    (out / "mlp.msgpack").write_bytes(serialization.to_bytes(params))
    state = {
        "step": np.int32(7),
        "scale": 0.5 + 2j,
        "embedding": jnp.ones((5, 2), dtype=jnp.bfloat16),
        "mask": np.array([True, False]),
        "names": ["a", "b"],
    }
    (out / "state.msgpack").write_bytes(serialization.to_bytes(state))
    for path in (out / "mlp.msgpack", out / "state.msgpack"):
        serialization.msgpack_restore(path.read_bytes())  # Flax reads back what it wrote


if __name__ == "__main__":
    main(Path(sys.argv[1]))
