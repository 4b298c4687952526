"""Which imported globals a pickle may use: an allow list of what real models need, a deny list
of gadgets with the reason each is dangerous, and everything else unknown.

Names are judged exactly as ``Unpickler.find_class`` resolves them: ``module`` is imported and
``name`` may be a dotted attribute chain, so ``torch.serialization`` + ``os.system`` reaches
``os.system``. Every component of such a chain is checked.

Beyond the hand-kept lists, a global that is not allowed but from which a call path reaches a
dangerous call (``modelyard.scan.sinks``, derived from source code) is denied with that path.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

from modelyard.scan.pickle.values import Global
from modelyard.scan.report import ImportSafety

if TYPE_CHECKING:
    from modelyard.scan.sinks import SinkKind


class Judgement(Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    UNKNOWN = "unknown"


# How safe an import is (as the hub shows it), by the judgement of it.
IMPORT_SAFETY: dict[Judgement, ImportSafety] = {
    Judgement.ALLOWED: ImportSafety.INNOCUOUS,
    Judgement.UNKNOWN: ImportSafety.SUSPICIOUS,
    Judgement.DENIED: ImportSafety.DANGEROUS,
}


class Decision(NamedTuple):
    """A judgement; ``path`` runs from the global to the dangerous call it reaches, if derived."""

    judgement: Judgement
    reason: str = ""
    path: tuple[str, ...] = ()


_RUNS_CODE = "runs arbitrary Python code"
_PROCESS = "starts processes or runs shell commands"
_FILES = "reads, writes or deletes files"
_NETWORK = "opens network connections"
_IMPORTS = "imports arbitrary modules or resolves arbitrary names"
_NESTED = "loads further serialized data, which can itself run code"
_ATTRS = "fetches or sets arbitrary attributes, a building block of gadget chains"
_CODE_OBJECTS = "builds code or function objects from raw bytes"
_INTERNALS = "reaches interpreter internals"
_NATIVE = "calls native code through arbitrary pointers"

SINK_REASONS: dict[SinkKind, str] = {
    "process": _PROCESS,
    "code": _RUNS_CODE,
    "import": _IMPORTS,
    "native": "loads native libraries",
    "file": "writes or deletes files",
    "network": _NETWORK,
    "unpickle": _NESTED,
}

# Whole modules (and their submodules) whose globals are dangerous in a pickle.
DENIED_MODULES: dict[str, str] = {
    "os": _PROCESS,
    "posix": _PROCESS,
    "nt": _PROCESS,
    "pty": _PROCESS,
    "pipes": _PROCESS,
    "subprocess": _PROCESS,
    "_posixsubprocess": _PROCESS,
    "_winapi": _PROCESS,
    "asyncio": _PROCESS,
    "multiprocessing": _PROCESS,
    "_multiprocessing": _PROCESS,
    "concurrent": _PROCESS,
    "platform": _PROCESS,
    "sys": _INTERNALS,
    "gc": _INTERNALS,
    "inspect": _INTERNALS,
    "ctypes": _NATIVE,
    "_ctypes": _NATIVE,
    "cffi": _NATIVE,
    "runpy": _RUNS_CODE,
    "code": _RUNS_CODE,
    "codeop": _RUNS_CODE,
    "pdb": _RUNS_CODE,
    "bdb": _RUNS_CODE,
    "cProfile": _RUNS_CODE,
    "profile": _RUNS_CODE,
    "timeit": _RUNS_CODE,
    "trace": _RUNS_CODE,
    "doctest": _RUNS_CODE,
    "idlelib": _RUNS_CODE,
    "IPython": _RUNS_CODE,
    "logging.config": _RUNS_CODE,
    "pydoc": _IMPORTS,
    "importlib": _IMPORTS,
    "pkgutil": _IMPORTS,
    "imp": _IMPORTS,
    "zipimport": _IMPORTS,
    "modulefinder": _IMPORTS,
    "pkg_resources": _IMPORTS,
    "setuptools": _PROCESS,
    "distutils": _PROCESS,
    "pip": "installs packages, running their code",
    "ensurepip": "installs packages, running their code",
    "venv": _PROCESS,
    "site": _INTERNALS,
    "_sitebuiltins": _INTERNALS,
    "test": _RUNS_CODE,
    "types": _CODE_OBJECTS,
    "marshal": _CODE_OBJECTS,
    "opcode": _CODE_OBJECTS,
    "dis": _CODE_OBJECTS,
    "operator": _ATTRS,
    "_operator": _ATTRS,
    "pickle": _NESTED,
    "_pickle": _NESTED,
    "pickletools": _NESTED,
    "copy": _NESTED,
    "shelve": _NESTED,
    "dill": _NESTED,
    "cloudpickle": _NESTED,
    "yaml": _NESTED,
    "jsonpickle": _NESTED,
    "keras.saving": _NESTED,
    "keras.src.saving": _NESTED,
    "keras.models": _NESTED,
    "tensorflow": _RUNS_CODE,
    "torch.hub": "downloads and imports code from the internet",
    "torch.jit": _RUNS_CODE,
    "torch.package": _NESTED,
    "torch.serialization": _NESTED,
    "torch.utils.cpp_extension": "compiles and loads native code",
    "torch.utils.model_zoo": "downloads and imports code from the internet",
    "torch._dynamo": _RUNS_CODE,
    "torch.fx": _RUNS_CODE,
    "torch.distributed": _NETWORK,
    "torch.multiprocessing": _PROCESS,
    "torch.testing": _RUNS_CODE,
    "torch.ops": _RUNS_CODE,
    "torch._ops": _RUNS_CODE,
    "torch.library": _RUNS_CODE,
    "torch.classes": _RUNS_CODE,
    "numpy.f2py": "compiles and loads native code",
    "numpy.ctypeslib": _NATIVE,
    "numpy.testing": _RUNS_CODE,
    "numpy.distutils": _PROCESS,
    "numpy.lib.npyio": _NESTED,
    "numpy.lib._npyio_impl": _NESTED,
    "numpy.lib.format": _NESTED,
    "numpy.lib._datasource": _FILES,
    "pandas.io": _NESTED,
    "pandas.core.computation": _RUNS_CODE,
    "pandas.testing": _RUNS_CODE,
    "pandas._testing": _RUNS_CODE,
    "pandas.util": _RUNS_CODE,
    "joblib": _NESTED,
    "sklearn.datasets": _FILES,
    "sklearn.utils._testing": _RUNS_CODE,
    "sklearn.utils.estimator_checks": _RUNS_CODE,
    "sklearn.externals": _NESTED,
    "shutil": _FILES,
    "tempfile": _FILES,
    "glob": _FILES,
    "fileinput": _FILES,
    "linecache": _FILES,
    "filecmp": _FILES,
    "pathlib": _FILES,
    "io": _FILES,
    "_io": _FILES,
    "mmap": _FILES,
    "sqlite3": _FILES,
    "dbm": _FILES,
    "zipfile": _FILES,
    "tarfile": _FILES,
    "compileall": _FILES,
    "py_compile": _FILES,
    "socket": _NETWORK,
    "_socket": _NETWORK,
    "ssl": _NETWORK,
    "socketserver": _NETWORK,
    "http": _NETWORK,
    "urllib": _NETWORK,
    "urllib2": _NETWORK,
    "urllib3": _NETWORK,
    "requests": _NETWORK,
    "httpx": _NETWORK,
    "aiohttp": _NETWORK,
    "ftplib": _NETWORK,
    "smtplib": _NETWORK,
    "imaplib": _PROCESS,
    "poplib": _NETWORK,
    "nntplib": _NETWORK,
    "telnetlib": _NETWORK,
    "xmlrpc": _NETWORK,
    "webbrowser": _PROCESS,
    "signal": _INTERNALS,
    "_thread": _INTERNALS,
    "threading": _INTERNALS,
}

# Single globals in otherwise ordinary modules.
DENIED_NAMES: dict[tuple[str, str], str] = {
    **{
        ("builtins", name): _RUNS_CODE
        for name in ("eval", "exec", "compile", "breakpoint", "input", "__build_class__")
    },
    **{("builtins", name): _IMPORTS for name in ("__import__", "globals", "locals", "vars")},
    **{("builtins", name): _ATTRS for name in ("getattr", "setattr", "delattr", "type", "super")},
    ("builtins", "open"): _FILES,
    ("builtins", "exit"): _INTERNALS,
    ("builtins", "quit"): _INTERNALS,
    ("builtins", "help"): _IMPORTS,
    ("builtins", "memoryview"): _INTERNALS,
    ("functools", "partial"): "binds arguments to an arbitrary callable for later calls",
    ("functools", "partialmethod"): "binds arguments to an arbitrary callable for later calls",
    ("functools", "reduce"): "calls an arbitrary callable repeatedly",
    ("_functools", "partial"): "binds arguments to an arbitrary callable for later calls",
    ("_functools", "reduce"): "calls an arbitrary callable repeatedly",
    ("codecs", "open"): _FILES,
    ("gzip", "open"): _FILES,
    ("bz2", "open"): _FILES,
    ("lzma", "open"): _FILES,
    ("copyreg", "add_extension"): _IMPORTS,
    ("torch", "load"): _NESTED,
    ("torch", "save"): _FILES,
    ("torch", "compile"): _RUNS_CODE,
    ("torch.storage", "_load_from_bytes"): _NESTED,
    ("torch._C", "_jit_pass_inline"): _RUNS_CODE,
    ("numpy", "load"): _NESTED,
    ("numpy", "loads"): _NESTED,
    ("numpy", "save"): _FILES,
    ("numpy", "savez"): _FILES,
    ("numpy", "savez_compressed"): _FILES,
    ("numpy", "savetxt"): _FILES,
    ("numpy", "loadtxt"): _FILES,
    ("numpy", "genfromtxt"): _FILES,
    ("numpy", "fromfile"): _FILES,
    ("numpy", "memmap"): _FILES,
    ("numpy", "DataSource"): _FILES,
    ("numpy.core", "_ufunc_reconstruct"): _IMPORTS,
    ("numpy._core", "_ufunc_reconstruct"): _IMPORTS,
    ("numpy.core._multiarray_umath", "_reload_guard"): _INTERNALS,
    ("pandas", "eval"): _RUNS_CODE,
    ("pandas", "read_pickle"): _NESTED,
    # pandas.io's HDF5 store, re-exported; it writes through PyTables, which the sinks table
    # does not analyse.
    ("pandas", "HDFStore"): _FILES,
    ("uuid", "_get_command_stdout"): _PROCESS,
    ("uuid", "_popen"): _PROCESS,
    ("sklearn.utils.validation", "check_memory"): _FILES,
}

# Attribute names that, reached through a dotted chain, point at a gadget whatever the module.
_DANGEROUS_ATTRIBUTES = frozenset(
    """
    system popen spawnl spawnv spawnve execv execve execl exec eval compile run call check_call
    check_output Popen getoutput getstatusoutput load loads open read_pickle to_pickle
    __import__ import_module getattr setattr delattr __getattribute__ __getattr__ __setattr__
    __globals__ __builtins__ __subclasses__ __class__ __bases__ __mro__ __dict__ __code__
    __reduce__ __reduce_ex__ __init_subclass__ write_text write_bytes touch unlink rmtree remove
    rename
    """.split()
)

_EXACT_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    [
        *(
            ("builtins", name)
            for name in (
                "set",
                "frozenset",
                "slice",
                "range",
                "complex",
                "bytearray",
                "bytes",
                "list",
                "dict",
                "tuple",
                "object",
                "int",
                "float",
                "str",
                "bool",
                "NotImplemented",
                "Ellipsis",
            )
        ),
        ("collections", "OrderedDict"),
        ("collections", "defaultdict"),
        ("collections", "deque"),
        ("collections", "Counter"),
        ("copyreg", "_reconstructor"),
        ("copyreg", "__newobj__"),
        ("copyreg", "__newobj_ex__"),
        ("_codecs", "encode"),
        *(
            ("datetime", name)
            for name in ("date", "datetime", "time", "timedelta", "timezone", "tzinfo")
        ),
        ("decimal", "Decimal"),
        ("fractions", "Fraction"),
        ("uuid", "UUID"),
        ("enum", "Enum"),
        ("re", "_compile"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy", "matrix"),
        ("numpy", "record"),
        ("numpy.rec", "recarray"),
        ("numpy.ma", "MaskedArray"),
        ("numpy.ma.core", "MaskedArray"),
        ("numpy.ma.core", "_mareconstruct"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random._pickle", "__generator_ctor"),
        ("numpy.random._pickle", "__randomstate_ctor"),
        ("numpy.random.bit_generator", "SeedSequence"),
        ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
        ("numpy.random._mt19937", "MT19937"),
        ("numpy.random._pcg64", "PCG64"),
        ("numpy.random._pcg64", "PCG64DXSM"),
        ("numpy.random._philox", "Philox"),
        ("numpy.random._sfc64", "SFC64"),
        ("numpy.random.mtrand", "RandomState"),
        ("numpy.random._generator", "Generator"),
        ("scipy.sparse._csr", "csr_matrix"),
        ("scipy.sparse._csc", "csc_matrix"),
        ("scipy.sparse._coo", "coo_matrix"),
        ("scipy.sparse._csr", "csr_array"),
        ("scipy.sparse._csc", "csc_array"),
        ("scipy.sparse.csr", "csr_matrix"),
        ("scipy.sparse.csc", "csc_matrix"),
        ("scipy.interpolate._bsplines", "BSpline"),
        ("scipy._lib.array_api_compat.numpy._aliases", "asarray"),
        ("pyarrow.lib", "_restore_array"),
        ("pyarrow.lib", "py_buffer"),
        ("pyarrow.lib", "type_for_alias"),
        ("torch", "Size"),
        ("torch", "device"),
        ("torch", "per_tensor_affine"),
        ("torch", "per_channel_affine"),
        ("torch", "strided"),
        ("torch", "sparse_coo"),
        ("torch", "sparse_csr"),
        ("torch", "contiguous_format"),
        ("torch", "channels_last"),
        ("torch", "preserve_format"),
        ("torch.serialization", "_get_layout"),
        ("torch._tensor", "_rebuild_from_type_v2"),
        ("torch.storage", "UntypedStorage"),
        ("torch.storage", "TypedStorage"),
        ("torch.nn.parameter", "Parameter"),
        ("torch.nn.parameter", "Buffer"),
        ("xgboost.core", "Booster"),
        ("lightgbm.basic", "Booster"),
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("joblib.numpy_pickle", "NDArrayWrapper"),
        ("joblib.numpy_pickle", "ZNDArrayWrapper"),
    ]
)

_TORCH_DTYPES = frozenset(
    """float16 float32 float64 bfloat16 half float double complex32 complex64 complex128 cfloat
    cdouble uint8 uint16 uint32 uint64 int8 int16 int32 int64 short int long bool qint8 quint8
    qint32 quint4x2 quint2x4 float8_e4m3fn float8_e5m2 float8_e4m3fnuz float8_e5m2fnuz""".split()
)
_NUMPY_NAMES = frozenset(
    """bool_ bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 intc intp uintp float16 float32
    float64 float128 longdouble complex64 complex128 clongdouble str_ bytes_ object_ void generic
    number integer floating datetime64 timedelta64 mean median sum prod max min amax amin std var
    average nanmean nanmedian nansum nanmax nanmin nanstd nanvar percentile quantile log log1p
    log2 log10 exp expm1 sqrt cbrt square abs absolute sign clip round rint floor ceil reciprocal
    tanh sinh cosh arcsinh sin cos tan arctan arcsin arccos identity argmax argmin all any
    ptp""".split()
)
_TORCH_STORAGE = re.compile(r"^(Untyped|Typed|[A-Z][A-Za-z0-9]*)Storage$")
_CLASS_NAME = re.compile(r"^_?[A-Z][A-Za-z0-9_]*$")
_PANDAS_FUNCTIONS = frozenset(
    """_new_Index _new_DatetimeIndex _new_PeriodIndex _new_IntervalIndex _unpickle_block
    _nat_unpickle _timedelta_unpickle _unpickle_timestamp _unpickle_series_compat
    __pyx_unpickle_NDArrayBacked __pyx_unpickle_IntervalMixin""".split()
)
# Names the families below would admit but from which a call path reaches a sink (the sinks
# table names it): pandas' Excel and JSON readers and writers open files, scikit-learn's callback
# transport opens sockets (``ScoringMonitor.__setstate__`` connects to an address it is given),
# LightGBM's core count starts a process. They are judged like any other global, with their path.
_OUTSIDE_FAMILIES: frozenset[tuple[str, str]] = frozenset(
    [
        ("pandas", "ExcelFile"),
        ("pandas", "ExcelWriter"),
        ("pandas.core.generic", "ExcelWriter"),
        ("pandas.api.typing", "JsonReader"),
        ("sklearn.callback", "ScoringMonitor"),
        ("sklearn.callback._scoring_monitor", "ScoringMonitor"),
        ("sklearn.callback._transport", "Client"),
        ("sklearn.callback._transport", "Listener"),
        ("lightgbm.sklearn", "_LGBMCpuCount"),
    ]
)
_SKLEARN_FUNCTION_MODULES = (
    "sklearn.metrics",
    "sklearn.feature_selection._univariate_selection",
    "sklearn.feature_selection._mutual_info",
    "sklearn.cluster._kmeans",
    "sklearn.utils._bunch",
)


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _denied_module(module: str) -> str | None:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        reason = DENIED_MODULES.get(".".join(parts[:end]))
        if reason:
            return reason
    return None


def _allowed_pattern(module: str, name: str) -> bool:
    """Families too large to list one by one, each limited to object-building names."""
    if (module, name) in _OUTSIDE_FAMILIES:
        return False
    top = module.split(".", 1)[0]
    if top == "torch":
        if module == "torch._utils":
            return name.startswith("_rebuild_")
        if module == "torch":
            return name in _TORCH_DTYPES or bool(_TORCH_STORAGE.match(name))
        return _within(module, "torch.nn.modules") and bool(_CLASS_NAME.match(name))
    if top == "numpy":
        return module == "numpy" and name in _NUMPY_NAMES
    if top == "sklearn":
        if _CLASS_NAME.match(name) or name.startswith("__pyx_unpickle_") or name == "newObj":
            return True
        return any(_within(module, prefix) for prefix in _SKLEARN_FUNCTION_MODULES)
    if top == "pandas":
        return bool(_CLASS_NAME.match(name)) or name in _PANDAS_FUNCTIONS
    if top in ("xgboost", "lightgbm"):
        return module in ("xgboost.sklearn", "lightgbm.sklearn") and bool(_CLASS_NAME.match(name))
    return False


def is_theano(found: Global) -> bool:
    """Whether ``found`` belongs to Theano, which the ``MY-PKL-008`` rule explains."""
    return _within(found.module, "theano")


def judge(found: Global) -> Decision:
    """Decide whether importing ``found`` (and calling it) is safe in a model file."""
    module, name = found.module, found.name
    reason = DENIED_NAMES.get((module, name))
    if reason is None and (module, name) not in _EXACT_ALLOWED:
        reason = _denied_module(module)
    if reason is not None:
        return Decision(Judgement.DENIED, reason)
    if "." in name:
        for attribute in name.split("."):
            if attribute in _DANGEROUS_ATTRIBUTES:
                return Decision(
                    Judgement.DENIED, f"reaches {attribute!r} through the attribute chain {name}"
                )
            if attribute in DENIED_MODULES:
                return Decision(
                    Judgement.DENIED,
                    f"reaches module {attribute} through the attribute chain {name}, "
                    f"which {DENIED_MODULES[attribute]}",
                )
        return _reaching(found) or Decision(
            Judgement.UNKNOWN, "a dotted attribute chain, which real models avoid"
        )
    if (module, name) in _EXACT_ALLOWED or _allowed_pattern(module, name):
        return Decision(Judgement.ALLOWED)
    return _reaching(found) or Decision(Judgement.UNKNOWN)


def _reaching(found: Global) -> Decision | None:
    """Denied with its path if a call path from ``found`` reaches a dangerous call."""
    from modelyard.scan.sinks import reaches_sink  # only for globals on neither list

    reached = reaches_sink(found.qualname)
    if reached is None:
        return None
    return Decision(
        Judgement.DENIED,
        f"reaches {reached.sink} ({' → '.join(reached.path)}), which {SINK_REASONS[reached.kind]}",
        reached.path,
    )
