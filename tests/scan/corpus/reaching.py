"""Live attacks through callables on neither list that wrap a dangerous call.

Each pickle calls one helper of the standard library or of a popular package that is not a
gadget by name (or that a family of the allow list would admit) but reaches ``os.system``,
``subprocess``, a socket or a file write; the scanner knows them only from the call paths
``scripts/derive_sinks.py`` derives.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path


def call2(module: str, name: str, *args: object) -> bytes:
    """``module.name(*args)`` as a protocol 2 pickle; the arguments are pickled as they are."""
    arguments = pickle.dumps(args, protocol=2)[2:-1]  # without PROTO and STOP
    return b"\x80\x02" + f"c{module}\n{name}\n".encode() + arguments + b"R."


def add_reaching(marker: Path, add: Callable[..., None]) -> None:
    """Add the attacks with ``add(name, data, family, technique, loader)``."""
    touch = f"touch {marker}"
    for name, data, technique in (
        (
            "osx_support_read_output.pkl",
            call2("_osx_support", "_read_output", touch),
            "_osx_support._read_output -> os.system",
        ),
        (
            "mailcap_findmatch.pkl",
            call2(
                "mailcap", "findmatch", {"text/plain": [{"view": "x", "test": touch}]}, "text/plain"
            ),
            "mailcap.findmatch runs a mailcap test -> os.system",
        ),
        (
            "torch_collect_env_run.pkl",
            call2("torch.utils.collect_env", "run", touch),
            "torch.utils.collect_env.run -> subprocess.Popen",
        ),
        (
            "scipy_savemat.pkl",
            call2("scipy.io", "savemat", str(marker), {}, False),
            "scipy.io.savemat writes a file",
        ),
        (
            "numpy_open_memmap.pkl",
            call2("numpy.lib._format_impl", "open_memmap", str(marker), "w+", None, (1,)),
            "numpy.lib._format_impl.open_memmap writes a file",
        ),
        (
            "gzip_file.pkl",
            call2("gzip", "GzipFile", str(marker), "wb"),
            "gzip.GzipFile opens a file for writing",
        ),
        (
            "sklearn_callback_listener.pkl",
            # kept in the module's own registry of listeners, or it closes (and removes its
            # socket file) as soon as the load drops it
            b"\x80\x02csklearn.callback._transport\n_listeners\n"
            + pickle.dumps(str(marker), protocol=2)[2:-1]
            + call2("sklearn.callback._transport", "Listener", str(marker))[2:-1]
            + b"s.",
            "sklearn.callback._transport.Listener binds a socket (a file for a path address)",
        ),
    ):
        add(name, data, "reaching", technique, "pickle")
