"""Derive which callables of the standard library and the ML stack reach a dangerous call.

Reads the *source* of the standard library and of the installed packages in ``PACKAGES`` (found
with ``importlib.util.find_spec``, which imports nothing for a top-level name) and parses it with
``ast``; nothing analysed is imported or run. It builds a call graph of module-level functions,
classes and methods, finds every callable from which a call path reaches a sink (``SINKS``) and
writes, for each, the sink's kind and the next callable on one shortest path (towards the most
severe kind where paths tie) to
``src/modelyard/scan/data/sinks.tsv``, the table ``modelyard.scan.sinks`` reads.

    python scripts/derive_sinks.py           # rewrite the table
    python scripts/derive_sinks.py --check   # exit 1 if the table is not current

What the graph follows:
- calls and callables passed as call arguments (``map(os.remove, paths)``), inside a function's
  whole body, nested functions and lambdas included;
- names bound by ``import``, ``from ... import`` (relative too, ``*`` through a literal
  ``__all__`` or the public names), module-level aliases (``run = subprocess.run``) and
  function-level imports;
- attribute chains on imported modules and classes (``os.path.join``, ``Popen.communicate``);
- ``self.m()``, ``cls.m()`` and ``super().m()`` through the class's bases as far as they resolve;
- a class stands for its ``__new__``, ``__init__`` and ``__setstate__`` (what unpickling runs);
- a module-level name that re-exports another stands for it, so ``numpy.load`` is found as
  pickles name it.

What it cannot resolve, and so misses: methods called on instances (``obj.m()`` where ``obj`` is
a local value, a parameter or an attribute), overrides reached by dynamic dispatch, names computed
at run time (``getattr``, ``globals()[...]``), calls through containers and decorators, and code in
compiled extensions (a C function is known only when listed as a sink). Calls of an ``open``-like
function with a literal read-only mode, ``os.open`` with read-only flags, ``numpy.load`` without
``allow_pickle``, ``torch.load(weights_only=True)`` and a process, code, import or native sink
whose first argument is a literal are not followed, nor are paths through ``BARRIERS``, callables
checked by hand to reach a sink only with data their callers cannot steer. Test packages
(``test``, ``tests``) are skipped.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import importlib.metadata
import importlib.util
import sys
import sysconfig
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.scan.sinks import DATA_FILE, SINK_KINDS, SinkKind

OUTPUT = Path(__file__).resolve().parents[1] / "src/modelyard/scan/data" / DATA_FILE

# Installed packages analysed besides the standard library (missing ones are skipped).
PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "sklearn",
    "torch",
    "keras",
    "joblib",
    "xgboost",
    "lightgbm",
    "dill",
    "cloudpickle",
    "skops",
    "safetensors",
    "huggingface_hub",
    "transformers",
    "onnx",
    "pyarrow",
    "h5py",
    "yaml",
    "requests",
    "urllib3",
)
_SKIPPED_DIRS = frozenset({"test", "tests", "idle_test", "site-packages", "__pycache__"})


def _each(kind: SinkKind, prefix: str, names: str) -> dict[str, SinkKind]:
    return {f"{prefix}.{name}": kind for name in names.split()}


_EXEC = "execl execle execlp execlpe execv execve execvp execvpe"
_SPAWN = "spawnl spawnle spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe posix_spawn posix_spawnp"
_FILE_OPS = """remove unlink rename renames replace rmdir removedirs mkdir makedirs truncate symlink
    link chmod chown lchown mkfifo mknod utime"""
SINKS: dict[str, SinkKind] = {
    **_each("process", "os", f"system popen startfile {_EXEC} {_SPAWN}"),
    **_each("process", "posix", f"system {_EXEC} {_SPAWN}"),
    **_each("process", "nt", f"system startfile {_EXEC} {_SPAWN}"),
    **_each("process", "subprocess", "Popen run call check_call check_output getoutput"),
    **_each("process", "subprocess", "getstatusoutput"),
    **_each("process", "_posixsubprocess", "fork_exec"),
    **_each("process", "_winapi", "CreateProcess"),
    **_each("process", "pty", "spawn"),
    **_each("code", "builtins", "exec eval compile"),
    **_each("code", "code.InteractiveInterpreter", "runsource runcode"),
    **_each("code", "code", "interact"),
    **_each("code", "runpy", "run_path run_module _run_code _run_module_code"),
    **_each("import", "builtins", "__import__"),
    **_each("import", "importlib", "import_module __import__ reload"),
    **_each("import", "importlib._bootstrap", "_gcd_import _find_and_load _load _exec"),
    **_each(
        "import",
        "importlib._bootstrap_external",
        "SourceFileLoader SourcelessFileLoader ExtensionFileLoader _LoaderBasics.exec_module",
    ),
    **_each("import", "zipimport", "zipimporter"),
    # These import a dotted name's parent packages, or the package named.
    **_each("import", "importlib.util", "find_spec"),
    **_each("import", "pandas.compat._optional", "import_optional_dependency"),
    **_each("native", "ctypes", "CDLL PyDLL WinDLL OleDLL LibraryLoader"),
    **_each("native", "ctypes", "cdll.LoadLibrary pydll.LoadLibrary windll.LoadLibrary"),
    **_each("native", "_ctypes", "dlopen LoadLibrary"),
    **_each("native", "cffi.FFI", "dlopen"),
    **_each("native", "cffi.api.FFI", "dlopen"),
    **_each("native", "numpy.ctypeslib", "load_library"),
    **_each("file", "builtins", "open"),
    **_each("file", "io", "open FileIO"),
    **_each("file", "_io", "open FileIO"),
    **_each("file", "os", f"open fdopen {_FILE_OPS}"),
    **_each("file", "posix", f"open {_FILE_OPS}"),
    **_each("file", "shutil", "rmtree copy copy2 copyfile copytree move make_archive"),
    **_each("file", "shutil", "unpack_archive chown copymode copystat"),
    **_each(
        "file",
        "pathlib.Path",
        "write_text write_bytes touch unlink rmdir mkdir rename replace symlink_to hardlink_to",
    ),
    **_each("file", "zipfile.ZipFile", "extract extractall"),
    **_each("file", "tarfile.TarFile", "extract extractall"),
    **_each("network", "socket", "socket create_connection create_server socketpair fromfd"),
    **_each("network", "_socket", "socket socketpair fromfd"),
    **_each("network", "urllib.request", "urlopen urlretrieve"),
    **_each("network", "urllib.request.OpenerDirector", "open"),
    **_each("network", "requests.sessions.Session", "send"),
    **_each("network", "urllib3.connectionpool.HTTPConnectionPool", "urlopen"),
    **_each("network", "urllib3.poolmanager.PoolManager", "urlopen"),
    **_each("unpickle", "pickle", "load loads Unpickler _load _loads _Unpickler"),
    **_each("unpickle", "_pickle", "load loads Unpickler"),
    **_each("unpickle", "marshal", "load loads"),
    **_each("unpickle", "shelve", "open Shelf"),
    **_each("unpickle", "dill", "load loads Unpickler"),
    **_each("unpickle", "dill._dill", "load loads Unpickler"),
    **_each("unpickle", "cloudpickle", "load loads"),
    **_each("unpickle", "joblib", "load"),
    **_each("unpickle", "joblib.numpy_pickle", "load"),
    **_each("unpickle", "torch", "load"),
    **_each("unpickle", "torch.serialization", "load"),
    **_each("unpickle", "numpy", "load"),
    **_each("unpickle", "numpy.lib.npyio", "load"),
    **_each("unpickle", "numpy.lib._npyio_impl", "load"),
    **_each("unpickle", "pandas", "read_pickle"),
    **_each("unpickle", "pandas.io.pickle", "read_pickle"),
    **_each("unpickle", "yaml", "unsafe_load unsafe_load_all"),
}

# Calls of these are followed only when their arguments can do harm (see ``_CallArgs``).
_OPEN_LIKE = frozenset(
    """builtins.open io.open _io.open io.FileIO _io.FileIO os.fdopen codecs.open gzip.open
    gzip.GzipFile bz2.open bz2.BZ2File lzma.open lzma.LZMAFile tarfile.open tarfile.TarFile.open
    zipfile.ZipFile""".split()
)
_OS_OPEN = frozenset({"os.open", "posix.open"})
_READ_FLAGS = frozenset(
    "O_RDONLY O_CLOEXEC O_BINARY O_NOFOLLOW O_DIRECTORY O_NONBLOCK O_PATH O_NOINHERIT O_NOCTTY "
    "O_NOATIME os".split()
)
_NUMPY_LOADS = frozenset({"numpy.load", "numpy.lib.npyio.load", "numpy.lib._npyio_impl.load"})
_TORCH_LOADS = frozenset({"torch.load", "torch.serialization.load"})
# A call of a sink of these kinds whose first argument is a literal runs only what the code says.
_LITERAL_SAFE_KINDS: frozenset[SinkKind | None] = frozenset({"process", "code", "import", "native"})
# Callables that reach a sink only with data their callers cannot steer; paths stop here.
BARRIERS: dict[str, str] = {
    "inspect._signature_fromstr": "evaluates the text signature a builtin carries",
    "inspect._signature_from_function": "evaluates annotations only with eval_str=True, which "
    "callers of inspect.signature leave off",
    "dataclasses._create_fn": "runs source built from field names checked to be identifiers",
    "platform._syscmd_ver": "runs only the fixed command ver, on Windows and DOS",
    "typing.ForwardRef.__init__": "compiles an annotation without running it",
    "collections.namedtuple": "evaluates code built from names it checked to be identifiers",
    "transformers.utils.import_utils._is_package_available": "imports only the package names "
    "its callers spell out",
}
# What unpickling a class runs.
_CLASS_ENTRY_POINTS = ("__new__", "__init__", "__setstate__")
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class _CallArgs:
    """What a call's arguments say about the harm of calling an open- or load-like function."""

    read_mode: bool = False
    read_flags: bool = False
    no_pickle: bool = False
    weights_only: bool = False
    literal_first: bool = False


_REFERENCE = _CallArgs()


@dataclass(frozen=True)
class _Ref:
    """A callable a function calls or passes on: ``how`` is dotted, self or super."""

    how: str
    text: str
    args: _CallArgs


@dataclass
class _Module:
    name: str
    bindings: dict[str, list[str]] = field(default_factory=dict)
    defs: set[str] = field(default_factory=set)
    stars: list[str] = field(default_factory=list)
    exports: list[str] | None = None


@dataclass
class _Class:
    module: str
    bases: list[str]
    methods: set[str]


@dataclass
class _Function:
    module: str
    owner: str | None
    refs: list[_Ref]


@dataclass
class _Graph:
    modules: dict[str, _Module] = field(default_factory=dict)
    classes: dict[str, _Class] = field(default_factory=dict)
    functions: dict[str, _Function] = field(default_factory=dict)


def _sources(package: str | None) -> Iterator[tuple[str, Path]]:
    """``(module name, file)`` for every ``.py`` of a package, or of the standard library."""
    if package is None:
        root, prefix = Path(sysconfig.get_paths()["stdlib"]), []
    else:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return
        root, prefix = Path(next(iter(spec.submodule_search_locations))), [package]
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if _SKIPPED_DIRS.intersection(parts[:-1]) or (package is None and parts[0] == "test"):
            continue
        if parts[-1] == "__init__":
            parts.pop()
        names = prefix + parts
        if names and all(part.isidentifier() for part in names):
            yield ".".join(names), path


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base.pop()
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _import_bindings(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool
) -> Iterator[tuple[str, str]]:
    """``(local name, dotted target)`` for each name an import statement binds."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                yield alias.asname, alias.name
            else:
                head = alias.name.split(".")[0]
                yield head, head
        return
    source = (
        _absolute(module, is_package, node.level, node.module) if node.level else node.module or ""
    )
    for alias in node.names:
        if alias.name != "*":
            yield alias.asname or alias.name, f"{source}.{alias.name}"


def _call_args(call: ast.Call) -> _CallArgs:
    keywords = {keyword.arg: keyword.value for keyword in call.keywords if keyword.arg}
    second = call.args[1] if len(call.args) > 1 else None
    mode = keywords.get("mode", second)
    flags = keywords.get("flags", second)
    allow_pickle = keywords.get("allow_pickle")
    weights_only = keywords.get("weights_only")
    return _CallArgs(
        read_mode=mode is None
        or (
            isinstance(mode, ast.Constant)
            and isinstance(mode.value, str)
            and not set(mode.value) & set("wax+")
        ),
        read_flags=flags is not None
        and all(
            isinstance(leaf, ast.Name | ast.Attribute)
            and (leaf.id if isinstance(leaf, ast.Name) else leaf.attr) in _READ_FLAGS
            for leaf in ast.walk(flags)
            if isinstance(leaf, ast.Name | ast.Attribute)
        )
        and not any(isinstance(leaf, ast.Call) for leaf in ast.walk(flags)),
        no_pickle=allow_pickle is None
        or (isinstance(allow_pickle, ast.Constant) and not allow_pickle.value),
        weights_only=isinstance(weights_only, ast.Constant) and weights_only.value is True,
        literal_first=bool(call.args) and _literal(call.args[0]),
    )


def _literal(node: ast.expr) -> bool:
    """A constant, or a list or tuple of constants: nothing a caller's data can change."""
    if isinstance(node, ast.List | ast.Tuple):
        return all(isinstance(item, ast.Constant) for item in node.elts)
    return isinstance(node, ast.Constant)


def _function_refs(
    function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
    module: str,
    is_package: bool,
    in_class: bool,
) -> list[_Ref]:
    """Every callable the body calls or passes on, as written (resolved later)."""
    arguments = function.args
    params = [*arguments.posonlyargs, *arguments.args]
    self_name = params[0].arg if in_class and params else None
    body: list[ast.AST] = (
        [function.body] if isinstance(function, ast.Lambda) else list(function.body)
    )
    nodes = [node for statement in body for node in ast.walk(statement)]
    imports: dict[str, list[str]] = {}
    local: set[str] = {
        arg.arg
        for arg in [*params, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
        if arg is not None
    }
    declared_global: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name, target in _import_bindings(node, module, is_package):
                imports.setdefault(name, []).append(target)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            local.add(node.id)
        elif isinstance(node, ast.arg):
            local.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            local.add(node.name)
        elif isinstance(node, ast.Global):
            declared_global.update(node.names)
    local -= declared_global

    refs: list[_Ref] = []

    def add(expr: ast.expr, args: _CallArgs, *, passed: bool) -> None:
        if (
            not passed
            and isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Call)
            and isinstance(expr.value.func, ast.Name)
            and expr.value.func.id == "super"
        ):
            refs.append(_Ref("super", expr.attr, args))
            return
        dotted = _dotted(expr)
        if dotted is None:
            return
        root, _, rest = dotted.partition(".")
        if root in imports:
            refs.extend(
                _Ref("absolute", f"{target}.{rest}" if rest else target, args)
                for target in imports[root]
            )
        elif root == self_name:
            if rest and "." not in rest:
                refs.append(_Ref("self", rest, args))
        elif root not in local:
            refs.append(_Ref("dotted", dotted, args))

    for node in nodes:
        if isinstance(node, ast.Call):
            add(node.func, _call_args(node), passed=False)
            if isinstance(node.func, ast.Name) and node.func.id in ("isinstance", "issubclass"):
                continue
            for value in [*node.args, *(keyword.value for keyword in node.keywords)]:
                if isinstance(value, ast.Name | ast.Attribute):
                    add(value, _REFERENCE, passed=True)
    return refs


def _parse_module(graph: _Graph, name: str, path: Path) -> None:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return
    is_package = path.name == "__init__.py"
    module = _Module(name)
    graph.modules[name] = module

    def statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
        """Module-level statements, through if/try/with blocks."""
        for statement in body:
            yield statement
            if isinstance(statement, ast.If | ast.Try | ast.With):
                for block in ("body", "orelse", "finalbody"):
                    yield from statements(getattr(statement, block, []))
                for handler in getattr(statement, "handlers", []):
                    yield from statements(handler.body)

    def define_class(node: ast.ClassDef, qualname: str) -> None:
        bases = [dotted for base in node.bases if (dotted := _dotted(base))]
        methods: set[str] = set()
        for item in node.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                methods.add(item.name)
                static = any(_dotted(d) == "staticmethod" for d in item.decorator_list)
                graph.functions[f"{qualname}.{item.name}"] = _Function(
                    name, qualname, _function_refs(item, name, is_package, not static)
                )
            elif isinstance(item, ast.ClassDef):
                methods.add(item.name)
                define_class(item, f"{qualname}.{item.name}")
        graph.classes[qualname] = _Class(name, bases, methods)

    for statement in statements(tree.body):
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            module.defs.add(statement.name)
            graph.functions[f"{name}.{statement.name}"] = _Function(
                name, None, _function_refs(statement, name, is_package, False)
            )
        elif isinstance(statement, ast.ClassDef):
            module.defs.add(statement.name)
            define_class(statement, f"{name}.{statement.name}")
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            if isinstance(statement, ast.ImportFrom) and statement.names[0].name == "*":
                source = statement.module or ""
                if statement.level:
                    source = _absolute(name, is_package, statement.level, statement.module)
                module.stars.append(source)
            for local, imported in _import_bindings(statement, name, is_package):
                module.bindings.setdefault(local, []).append(imported)
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if not isinstance(target, ast.Name):
                continue
            if isinstance(statement.value, ast.Lambda):
                module.defs.add(target.id)
                graph.functions[f"{name}.{target.id}"] = _Function(
                    name, None, _function_refs(statement.value, name, is_package, False)
                )
            elif target.id == "__all__" and isinstance(statement.value, ast.List | ast.Tuple):
                module.exports = [
                    item.value
                    for item in statement.value.elts
                    if isinstance(item, ast.Constant) and isinstance(item.value, str)
                ]
            elif (dotted := _dotted(statement.value)) is not None:
                module.bindings.setdefault(target.id, []).append(dotted)


class _Resolver:
    """Turns names as written in a module into the qualified names of what they denote."""

    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self._exported: dict[str, set[str]] = {}

    def exported(self, module_name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        """Names ``from module import *`` binds."""
        if module_name in self._exported:
            return self._exported[module_name]
        module = self.graph.modules.get(module_name)
        names: set[str] = set()
        if module is not None:
            if module.exports is not None:
                names = set(module.exports)
            else:
                names = {n for n in (module.defs | set(module.bindings)) if not n.startswith("_")}
                for star in module.stars:
                    if star not in seen:
                        names |= self.exported(star, seen | {module_name})
        if not seen:
            self._exported[module_name] = names
        return names

    def method(self, class_name: str, attribute: str, depth: int = 0) -> str | None:
        """Where ``attribute`` of a class is defined, following its bases."""
        cls = self.graph.classes.get(class_name)
        if cls is None or depth > 30:
            return None
        if attribute in cls.methods:
            return f"{class_name}.{attribute}"
        for base in cls.bases:
            for resolved in self.in_module(cls.module, base, depth + 1):
                if resolved in self.graph.classes and resolved != class_name:
                    found = self.method(resolved, attribute, depth + 1)
                    if found:
                        return found
        return None

    def in_module(self, module_name: str, dotted: str, depth: int = 0) -> set[str]:
        """What ``dotted``, written at the top level of ``module_name``, denotes."""
        module = self.graph.modules.get(module_name)
        root, _, rest = dotted.partition(".")
        tail = f".{rest}" if rest else ""
        if module is None:
            return set()
        if root in module.bindings or root in module.defs:
            return self.absolute(f"{module_name}.{dotted}", depth + 1)
        for star in module.stars:
            if star not in self.graph.modules or root in self.exported(star):
                return self.absolute(f"{star}.{root}{tail}", depth + 1)
        if root in _BUILTINS:
            return {f"builtins.{dotted}"}
        return set()

    def absolute(self, dotted: str, depth: int = 0) -> set[str]:
        """What a qualified dotted name denotes; an unknown module's names stay as they are."""
        if dotted in SINKS or depth > 40:
            return {dotted} if dotted in SINKS else set()
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in self.graph.modules:
                break
        else:
            return {dotted}
        if end == len(parts):
            return set()
        module = self.graph.modules[prefix]
        head, rest = parts[end], parts[end + 1 :]
        if head in module.defs:
            qualname = f"{prefix}.{head}"
            for attribute in rest:
                if qualname not in self.graph.classes:
                    return set()
                defined = self.method(qualname, attribute, depth)
                if defined is None:
                    return set()
                qualname = defined
            return {qualname}
        if head in module.bindings:
            found: set[str] = set()
            for target in module.bindings[head]:
                found |= self.absolute(".".join([target, *rest]), depth + 1)
            return found
        for star in module.stars:
            if star not in self.graph.modules or head in self.exported(star):
                return self.absolute(".".join([star, head, *rest]), depth + 1)
        return set()

    def refs(self, function: _Function) -> set[str]:
        """The callables a function's references denote, less harmless open and load calls."""
        found: set[str] = set()
        for ref in function.refs:
            if ref.how == "self" or ref.how == "super":
                if function.owner is None:
                    continue
                owner = self.graph.classes[function.owner]
                classes = [function.owner] if ref.how == "self" else []
                if ref.how == "super":
                    for base in owner.bases:
                        classes.extend(self.in_module(owner.module, base))
                targets = {m for c in classes if (m := self.method(c, ref.text)) is not None}
            elif ref.how == "absolute":
                targets = self.absolute(ref.text)
            else:
                targets = self.in_module(function.module, ref.text)
            found |= {target for target in targets if not _harmless(target, ref.args)}
        return found


def _harmless(target: str, args: _CallArgs) -> bool:
    """Whether a call with these arguments cannot do what makes ``target`` a sink."""
    if args is _REFERENCE:
        return False
    if args.literal_first and SINKS.get(target) in _LITERAL_SAFE_KINDS:
        return True
    if target in _OS_OPEN:
        return args.read_flags
    if target in _OPEN_LIKE:
        return args.read_mode
    if target in _NUMPY_LOADS:
        return args.no_pickle
    if target in _TORCH_LOADS:
        return args.weights_only
    return False


def build_graph(packages: Iterable[str | None]) -> _Graph:
    graph = _Graph()
    for package in packages:
        for name, path in _sources(package):
            if name not in graph.modules:
                _parse_module(graph, name, path)
    return graph


def calls(graph: _Graph) -> dict[str, set[str]]:
    """``{callable: callables it may call}``, re-exported names and classes included."""
    resolver = _Resolver(graph)
    edges: dict[str, set[str]] = {}
    for name, function in graph.functions.items():
        if name not in BARRIERS:
            edges[name] = resolver.refs(function)
    for name in graph.classes:
        edges.setdefault(name, set()).update(
            found for entry in _CLASS_ENTRY_POINTS if (found := resolver.method(name, entry))
        )
    for module_name, module in graph.modules.items():
        aliases = set(module.bindings)
        for star in module.stars:
            aliases |= resolver.exported(star) - module.defs
        for alias in aliases:
            qualname = f"{module_name}.{alias}"
            targets = resolver.absolute(qualname) - {qualname}
            if targets:
                edges.setdefault(qualname, set()).update(targets)
    return edges


def shortest_paths(edges: dict[str, set[str]]) -> dict[str, tuple[SinkKind, str]]:
    """``{callable: (kind, next callable)}`` for every callable that reaches a sink."""
    callers: dict[str, set[str]] = {}
    for caller, callees in edges.items():
        for callee in callees:
            callers.setdefault(callee, set()).add(caller)
    distance = dict.fromkeys(SINKS, 0)
    queue = deque(sorted(SINKS))
    while queue:
        node = queue.popleft()
        for caller in callers.get(node, ()):
            if caller not in distance:
                distance[caller] = distance[node] + 1
                queue.append(caller)
    table: dict[str, tuple[SinkKind, str]] = {sink: (kind, "") for sink, kind in SINKS.items()}
    for node in sorted(distance, key=lambda name: (distance[name], name)):
        if distance[node]:
            following = min(
                (c for c in edges[node] if distance.get(c) == distance[node] - 1),
                key=lambda callee: (SINK_KINDS.index(table[callee][0]), callee),
            )
            table[node] = (table[following][0], following)
    return table


def _versions(packages: Iterable[str]) -> str:
    distributions = importlib.metadata.packages_distributions()
    found = []
    for package in packages:
        for distribution in sorted(set(distributions.get(package, []))):
            found.append(f"{distribution} {importlib.metadata.version(distribution)}")
    return ", ".join(found)


def render(table: dict[str, tuple[SinkKind, str]], packages: Iterable[str]) -> str:
    python = ".".join(map(str, sys.version_info[:3]))
    lines = [
        "# callable\tsink kind\tnext callable on a shortest path to the sink",
        f"# from scripts/derive_sinks.py: Python {python}, {_versions(packages)}",
    ]
    lines += [f"{name}\t{kind}\t{following}" for name, (kind, following) in sorted(table.items())]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the table is not current")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    options = parser.parse_args()
    packages = [p for p in PACKAGES if importlib.util.find_spec(p) is not None]
    text = render(shortest_paths(calls(build_graph([None, *packages]))), packages)
    if options.check:
        current = options.output.read_text() if options.output.exists() else ""
        if current != text:
            print(f"{options.output} is not current: run scripts/derive_sinks.py", file=sys.stderr)
            return 1
        return 0
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(text)
    entries = text.count("\n") - 2
    print(f"{options.output}: {entries} callables reach a sink")
    return 0


if __name__ == "__main__":
    sys.exit(main())
