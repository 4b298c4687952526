"""A symbolic pickle machine: every opcode of protocols 0-5, executed on symbols, never on objects.

It keeps the stack, the mark stack, the memo and the protocol exactly as ``pickle.Unpickler``
does, so operands are known wherever they come from (literals, memo, DUP, results of calls). It
imports nothing and calls nothing: imports become ``Global`` symbols, calls become ``Call``
symbols, and everything the policy must judge is recorded in a ``Trace``.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import struct
from typing import Any, NamedTuple

from modelyard.scan.options import Deadline, ScanOptions
from modelyard.scan.pickle.values import (
    Blob,
    Call,
    DictItems,
    Global,
    PersistentRef,
    SetItems,
    Unknown,
)
from modelyard.scan.spill import hold, release

# Values longer than this are kept as offsets into the input rather than copied.
_BLOB_THRESHOLD = 1 << 16
# Opcodes between two checks of the deadline and of the values the machine holds.
_BATCH = range(1 << 16)

_unpack_i = struct.Struct("<i").unpack_from
_unpack_I = struct.Struct("<I").unpack_from
_unpack_H = struct.Struct("<H").unpack_from
_unpack_Q = struct.Struct("<Q").unpack_from
_unpack_d = struct.Struct(">d").unpack_from

JOBLIB_ARRAY_WRAPPER = Global("joblib.numpy_pickle", "NumpyArrayWrapper")
_CODECS_ENCODE = Global("_codecs", "encode")

# Loaders that unpickle the bytes they are given: such bytes are scanned as a nested stream.
READS_NESTED_PICKLES: frozenset[Global] = frozenset(
    Global(module, name)
    for module, name in (
        ("pickle", "loads"),
        ("_pickle", "loads"),
        ("pickle", "load"),
        ("_pickle", "load"),
        ("dill", "loads"),
        ("dill._dill", "loads"),
        ("cloudpickle", "loads"),
        ("torch", "load"),
        ("torch.serialization", "load"),
        ("torch.storage", "_load_from_bytes"),
        ("numpy", "loads"),
        ("numpy", "load"),
        ("joblib", "load"),
        ("joblib.numpy_pickle", "load"),
        ("pandas", "read_pickle"),
        ("io", "BytesIO"),
        ("_io", "BytesIO"),
    )
)


class PickleBreak(Exception):
    """The stream stops following the pickle format at ``offset``; a loader would fail there."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


class PickleLimit(PickleBreak):
    """The stream asks for more than ``ScanOptions`` allows."""


class PickleTruncated(PickleBreak):
    """The stream ends in the middle of a pickle."""


class _Underflow(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


# What the machine saw, one type per kind of event.
class GlobalImported(NamedTuple):
    """GLOBAL, INST or STACK_GLOBAL imports ``found``."""

    offset: int
    found: Global


class ComputedCall(NamedTuple):
    """``how`` (REDUCE, NEWOBJ, ...) calls a value made at load time, not an imported global."""

    offset: int
    func: Any
    how: str


class ComputedGlobal(NamedTuple):
    """STACK_GLOBAL imports a module or name computed at load time."""

    offset: int
    module: Any
    name: Any


class ExtensionCode(NamedTuple):
    """EXT1/EXT2/EXT4 imports whatever the loading process registered under ``code``."""

    offset: int
    code: int


class BuildOnGlobal(NamedTuple):
    """BUILD sets attributes on the imported object ``target`` itself."""

    offset: int
    target: Global


class NestedLoad(NamedTuple):
    """``loader`` (a nested unpickler or loader) is called on ``data`` at load time."""

    offset: int
    loader: Global
    data: bytes | bytearray | memoryview


# Everything the machine reports for the policy to judge.
Event = GlobalImported | ComputedCall | ComputedGlobal | ExtensionCode | BuildOnGlobal | NestedLoad


class Trace:
    """Everything one run of the machine saw."""

    __slots__ = (
        "calls",
        "events",
        "joblib_arrays",
        "marked",
        "persistent_ids",
        "pickles",
        "result",
    )

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.persistent_ids: list[Any] = []
        self.pickles = 0
        self.calls = 0
        # Values that MARK-based opcodes moved off the stack into containers.
        self.marked = 0
        self.joblib_arrays = 0
        self.result: Any = None


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


def _parse_string_literal(line: bytes, offset: int) -> str:
    """STRING's argument: a quoted Python 2 literal, escape-decoded like ``pickle`` does."""
    if len(line) >= 2 and line[0] == line[-1] and line[:1] in (b"'", b'"'):
        try:
            return codecs.escape_decode(line[1:-1])[0].decode("latin-1")
        except ValueError:  # a trailing backslash: pickle fails here too
            raise PickleBreak(offset, "STRING argument has an invalid escape") from None
    raise PickleBreak(offset, "STRING argument is not a quoted string")


class Machine:
    """Runs pickles from one buffer; a new ``Machine`` per stream."""

    def __init__(
        self,
        data: Any,
        options: ScanOptions,
        trace: Trace | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        # Slices of a memoryview are memoryviews, which cannot be decoded or searched.
        self.data: Any = hold(data, options.spill_bytes) if isinstance(data, memoryview) else data
        self.size = len(data)
        self.options = options
        self.trace = trace or Trace()
        self.deadline = deadline or Deadline()
        self._released = 0

    def bytes_of(self, value: Any) -> bytes | bytearray | memoryview | None:
        """The bytes a symbolic bytes value stands for (``None`` if it is not bytes)."""
        if isinstance(value, bytes | bytearray):
            return value
        if isinstance(value, Blob):
            return memoryview(self.data)[value.start : value.end]
        return None

    def run(self, pos: int) -> int:
        """Run one pickle starting at ``pos``; returns the offset just after its STOP."""
        data = self.data
        size = self.size
        trace = self.trace
        events = trace.events
        max_memo = self.options.max_memo_index
        max_marks = self.options.max_mark_depth
        # One flat stack; MARK records its height (pickle keeps a stack of stacks: same result
        # for every stream a loader accepts, and more lenient only where a loader would fail).
        stack: list[Any] = []
        append = stack.append
        pop = stack.pop
        marks: list[int] = []
        memo: dict[int, Any] = {}
        proto = 0
        op = 0
        at = pos
        # Values moved off the stack into small tuples and containers: with those moved by
        # marks (trace.marked), calls, the stack, the memo and the events, a bound on what the
        # machine holds, checked every len(_BATCH) opcodes.
        moved = 0
        max_values = self.options.max_pickle_values
        deadline = self.deadline

        def checkpoint(at: int, moved: int) -> None:
            deadline.check()
            # Read once: a mapping need not keep it in memory (Blobs re-read it from the file).
            release(data, self._released, at)
            self._released = at
            held = moved + trace.marked + trace.calls + len(stack) + len(memo) + len(events)
            if held > max_values:
                raise PickleLimit(
                    at, f"the pickle builds more than max_pickle_values ({max_values}) values"
                )

        def readline(at: int) -> tuple[bytes, int]:
            end = _find_newline(data, at, size)
            if end < 0:
                raise PickleTruncated(at, "the stream ends before a line-terminated argument")
            return bytes(data[at:end]), end + 1

        def take(count: int, at: int) -> Any:
            if count < 0:
                raise PickleBreak(at, "a length field is negative")
            if at + count > size:
                raise PickleTruncated(at, "a length field points past the end of the stream")
            if count > _BLOB_THRESHOLD:
                return Blob(at, at + count)
            return bytes(data[at : at + count])

        def pop_mark() -> list[Any]:
            height = marks.pop()
            items = stack[height:]
            del stack[height:]
            trace.marked += len(items)
            return items

        def put(index: int, at: int) -> None:
            if index < 0 or index > max_memo:
                raise PickleLimit(at, f"memo index {index} is beyond the limit of {max_memo}")
            memo[index] = stack[-1]

        def find_global(module: str, name: str, at: int) -> Global:
            if proto < 3:
                if (module, name) in _compat_pickle.NAME_MAPPING:
                    module, name = _compat_pickle.NAME_MAPPING[(module, name)]
                elif module in _compat_pickle.IMPORT_MAPPING:
                    module = _compat_pickle.IMPORT_MAPPING[module]
            found = Global(module, name)
            events.append(GlobalImported(at, found))
            return found

        def call(func: Any, args: Any, at: int, how: str) -> Any:
            trace.calls += 1
            if not isinstance(func, Global):
                events.append(ComputedCall(at, func, how))
                return Call(func, args, at)
            if func == _CODECS_ENCODE and isinstance(args, tuple) and len(args) >= 1:
                text = args[0]
                encoding = args[1] if len(args) > 1 else "utf-8"
                if isinstance(text, str) and encoding in ("latin1", "latin-1"):
                    return text.encode("latin-1")
            if func in READS_NESTED_PICKLES:
                for arg in _walk_args(args):
                    blob = self.bytes_of(arg)
                    if blob is not None and len(blob) > 0:
                        events.append(NestedLoad(at, func, blob))
            return Call(func, args, at)

        def add_items(items: list[Any], at: int) -> None:
            target = stack[-1]
            if isinstance(target, list):
                target.extend(items)
            elif not isinstance(target, Call):
                # Only objects made at load time can have append/extend/__setitem__.
                raise PickleBreak(at, "items are added to something that is not a container")

        try:
            while True:
                checkpoint(pos, moved)
                for _ in _BATCH:
                    at = pos
                    op = data[pos]
                    pos += 1
                    # Ordered by how often real model pickles use each opcode.
                    if op == 0x94:  # MEMOIZE
                        memo[len(memo)] = stack[-1]
                    elif op == 0x8C:  # SHORT_BINUNICODE
                        end = pos + 1 + data[pos]
                        if end > size:
                            raise PickleTruncated(at, "a string runs past the end of the stream")
                        append(data[pos + 1 : end].decode("utf-8", "surrogatepass"))
                        pos = end
                    elif op == 0x71:  # BINPUT
                        memo[data[pos]] = stack[-1]
                        pos += 1
                    elif op == 0x68:  # BINGET
                        append(memo[data[pos]])
                        pos += 1
                    elif op == 0x4B:  # BININT1
                        append(data[pos])
                        pos += 1
                    elif op == 0x4A:  # BININT
                        append(_unpack_i(data, pos)[0])
                        pos += 4
                    elif op == 0x4D:  # BININT2
                        append(_unpack_H(data, pos)[0])
                        pos += 2
                    elif op == 0x28:  # MARK
                        if len(marks) >= max_marks:
                            raise PickleLimit(at, f"more than {max_marks} nested MARKs")
                        marks.append(len(stack))
                    elif op == 0x47:  # BINFLOAT
                        append(_unpack_d(data, pos)[0])
                        pos += 8
                    elif op == 0x5D:  # EMPTY_LIST
                        append([])
                    elif op == 0x86:  # TUPLE2
                        second = pop()
                        stack[-1] = (stack[-1], second)
                        moved += 1
                    elif op == 0x85:  # TUPLE1
                        stack[-1] = (stack[-1],)
                        moved += 1
                    elif op == 0x87:  # TUPLE3
                        third = pop()
                        second = pop()
                        stack[-1] = (stack[-1], second, third)
                        moved += 2
                    elif op in (0x65, 0x75, 0x90):  # APPENDS SETITEMS ADDITEMS
                        add_items(pop_mark(), at)
                    elif op == 0x61:  # APPEND
                        add_items([pop()], at)
                        moved += 1
                    elif op == 0x73:  # SETITEM
                        value = pop()
                        add_items([pop(), value], at)
                        moved += 2
                    elif op == 0x29:  # EMPTY_TUPLE
                        append(())
                    elif op == 0x74:  # TUPLE
                        append(tuple(pop_mark()))
                    elif op == 0x7D:  # EMPTY_DICT
                        append(DictItems())
                    elif op == 0x8F:  # EMPTY_SET
                        append(SetItems())
                    elif op == 0x6C:  # LIST
                        append(pop_mark())
                    elif op == 0x64:  # DICT
                        append(DictItems(pop_mark()))
                    elif op == 0x91:  # FROZENSET
                        append(SetItems(pop_mark()))
                    elif op == 0x4E:  # NONE
                        append(None)
                    elif op == 0x88:  # NEWTRUE
                        append(True)
                    elif op == 0x89:  # NEWFALSE
                        append(False)
                    elif op == 0x58:  # BINUNICODE
                        length = _unpack_I(data, pos)[0]
                        append(_decode_text(self._materialize(take(length, pos + 4))))
                        pos += 4 + length
                    elif op == 0x72:  # LONG_BINPUT
                        put(_unpack_I(data, pos)[0], at)
                        pos += 4
                    elif op == 0x6A:  # LONG_BINGET
                        append(memo[_unpack_I(data, pos)[0]])
                        pos += 4
                    elif op in (0x43, 0x42, 0x8E, 0x96):  # SHORT_BINBYTES BINBYTES BINBYTES8
                        # and BYTEARRAY8
                        if op == 0x43:
                            width, length = 1, data[pos]
                        elif op == 0x42:
                            width, length = 4, _unpack_I(data, pos)[0]
                        else:
                            width, length = 8, _unpack_Q(data, pos)[0]
                        append(take(length, pos + width))
                        pos += width + length
                    elif op in (0x55, 0x54):  # SHORT_BINSTRING BINSTRING
                        width = 1 if op == 0x55 else 4
                        length = data[pos] if width == 1 else _unpack_i(data, pos)[0]
                        append(self._materialize(take(length, pos + width)).decode("latin-1"))
                        pos += width + length
                    elif op == 0x8D:  # BINUNICODE8
                        length = _unpack_Q(data, pos)[0]
                        append(_decode_text(self._materialize(take(length, pos + 8))))
                        pos += 8 + length
                    elif op == 0x8A:  # LONG1
                        end = pos + 1 + data[pos]
                        if end > size:
                            raise PickleTruncated(at, "a number runs past the end of the stream")
                        append(int.from_bytes(data[pos + 1 : end], "little", signed=True))
                        pos = end
                    elif op == 0x8B:  # LONG4
                        length = _unpack_i(data, pos)[0]
                        raw = self._materialize(take(length, pos + 4))
                        append(int.from_bytes(raw, "little", signed=True))
                        pos += 4 + length
                    elif op == 0x70:  # PUT
                        line, pos = readline(pos)
                        put(_parse_int(line, at), at)
                    elif op == 0x67:  # GET
                        line, pos = readline(pos)
                        append(memo[_parse_int(line, at)])
                    elif op == 0x32:  # DUP
                        append(stack[-1])
                    elif op == 0x30:  # POP
                        if marks and len(stack) == marks[-1]:
                            marks.pop()
                        else:
                            pop()
                    elif op == 0x31:  # POP_MARK
                        pop_mark()
                    elif op == 0x63:  # GLOBAL
                        module_line, pos = readline(pos)
                        name_line, pos = readline(pos)
                        append(find_global(_decode_text(module_line), _decode_text(name_line), at))
                    elif op == 0x93:  # STACK_GLOBAL
                        name = pop()
                        module = pop()
                        if isinstance(module, str) and isinstance(name, str):
                            append(find_global(module, name, at))
                        elif _is_computed(module) or _is_computed(name):
                            events.append(ComputedGlobal(at, module, name))
                            append(Unknown("a global whose name is computed at load time"))
                        else:
                            raise PickleBreak(at, "STACK_GLOBAL operands are not strings")
                    elif op == 0x52:  # REDUCE
                        args = pop()
                        stack[-1] = call(stack[-1], args, at, "REDUCE")
                    elif op == 0x81:  # NEWOBJ
                        args = pop()
                        stack[-1] = call(stack[-1], args, at, "NEWOBJ")
                    elif op == 0x92:  # NEWOBJ_EX
                        kwargs = pop()
                        args = pop()
                        stack[-1] = call(stack[-1], (args, kwargs), at, "NEWOBJ_EX")
                    elif op == 0x6F:  # OBJ
                        items = pop_mark()
                        if not items:
                            raise PickleBreak(at, "OBJ without a class")
                        append(call(items[0], tuple(items[1:]), at, "OBJ"))
                    elif op == 0x69:  # INST
                        module_line, pos = readline(pos)
                        name_line, pos = readline(pos)
                        cls = find_global(_decode_text(module_line), _decode_text(name_line), at)
                        append(call(cls, tuple(pop_mark()), at, "INST"))
                    elif op == 0x62:  # BUILD
                        state = pop()
                        target = stack[-1]
                        if isinstance(target, Global):
                            events.append(BuildOnGlobal(at, target))
                        elif isinstance(target, Call):
                            target.state = state
                            if target.func == JOBLIB_ARRAY_WRAPPER:
                                pos = self._skip_joblib_array(target, pos)
                    elif op == 0x95:  # FRAME
                        length = _unpack_Q(data, pos)[0]
                        pos += 8
                        if pos + length > size:
                            raise PickleBreak(at, "a FRAME is longer than the rest of the stream")
                    elif op == 0x80:  # PROTO
                        proto = data[pos]
                        if proto > 5:
                            raise PickleBreak(at, f"unsupported pickle protocol {proto}")
                        pos += 1
                    elif op == 0x2E:  # STOP
                        trace.result = pop()
                        trace.pickles += 1
                        return pos
                    elif op in (0x50, 0x51):  # PERSID BINPERSID
                        if op == 0x50:
                            line, pos = readline(pos)
                            pid: Any = line.decode("ascii", "replace")
                        else:
                            pid = pop()
                        trace.persistent_ids.append(pid)
                        if isinstance(pid, tuple) and len(pid) > 1 and pid[0] == "module":
                            # PyTorch's legacy format passes module classes this way and its
                            # persistent_load returns the class itself (already judged as a global).
                            append(pid[1])
                        else:
                            append(PersistentRef(pid))
                    elif op in (0x82, 0x83, 0x84):  # EXT1 EXT2 EXT4
                        width = {0x82: 1, 0x83: 2, 0x84: 4}[op]
                        if pos + width > size:
                            raise PickleTruncated(at, "the stream ends inside an EXT code")
                        code = int.from_bytes(data[pos : pos + width], "little", signed=width == 4)
                        pos += width
                        events.append(ExtensionCode(at, code))
                        append(Unknown(f"extension registry code {code}"))
                    elif op == 0x49:  # INT (also the protocol 0 spelling of True and False)
                        line, pos = readline(pos)
                        if line == b"00":
                            append(False)
                        elif line == b"01":
                            append(True)
                        else:
                            append(_parse_int(line, at))
                    elif op == 0x4C:  # LONG
                        line, pos = readline(pos)
                        append(_parse_int(line.removesuffix(b"L"), at))
                    elif op == 0x46:  # FLOAT
                        line, pos = readline(pos)
                        try:
                            append(float(line))
                        except ValueError:
                            raise PickleBreak(at, "FLOAT argument is not a number") from None
                    elif op == 0x53:  # STRING
                        line, pos = readline(pos)
                        append(_parse_string_literal(line, at))
                    elif op == 0x56:  # UNICODE
                        line, pos = readline(pos)
                        append(line.decode("raw-unicode-escape"))
                    elif op == 0x97:  # NEXT_BUFFER
                        append(Unknown("an out-of-band buffer"))
                    elif op == 0x98:  # READONLY_BUFFER
                        if not stack:
                            raise PickleBreak(at, "READONLY_BUFFER with nothing on the stack")
                    else:
                        raise PickleBreak(at, f"byte 0x{op:02x} is not a pickle opcode")
        except (IndexError, struct.error):
            if pos >= size:
                raise PickleTruncated(
                    at, "the stream ends before the pickle's STOP opcode"
                ) from None
            raise PickleBreak(
                at, f"opcode 0x{op:02x} needs more on the stack or an open MARK than there is"
            ) from None
        except UnicodeDecodeError:
            # pickle decodes text arguments the same way and stops at the same place.
            raise PickleBreak(at, "a text argument is not valid UTF-8") from None
        except KeyError as error:
            raise PickleBreak(at, f"memo key {error.args[0]} was never stored") from None

    def _materialize(self, value: Any) -> bytes:
        if isinstance(value, Blob):
            return bytes(memoryview(self.data)[value.start : value.end])
        return value

    def _skip_joblib_array(self, wrapper: Call, pos: int) -> int:
        """Step over the raw array joblib writes right after a ``NumpyArrayWrapper``.

        joblib stores numeric arrays as raw bytes after the wrapper's BUILD (with an optional
        alignment padding); object arrays follow as a complete pickle of their own, which is
        simulated like any other.
        """
        self.trace.joblib_arrays += 1
        state = _dict_items(wrapper.state)
        shape = state.get("shape")
        dtype = state.get("dtype")
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise PickleBreak(pos, "a joblib array has no valid shape")
        itemsize, has_objects = _dtype_layout(dtype)
        if has_objects:
            end = self.run(pos)
            self.trace.pickles -= 1  # part of the same object, not a pickle of its own
            return end
        if itemsize is None:
            raise PickleBreak(pos, "a joblib array has a dtype the scanner cannot size")
        if state.get("numpy_array_alignment_bytes") is not None:
            if pos >= self.size:
                raise PickleBreak(pos, "the stream ends before a joblib array")
            pos += 1 + self.data[pos]
        count = 1
        for extent in shape:
            count *= extent
        end = pos + count * itemsize
        if end > self.size:
            raise PickleBreak(pos, "a joblib array extends past the end of the stream")
        return end


def _find_newline(data: Any, start: int, size: int) -> int:
    """``data.find(b"\\n", start)`` for buffers without ``find`` (memoryviews)."""
    find = getattr(data, "find", None)
    if find is not None:
        return find(b"\n", start)
    for chunk_start in range(start, size, 4096):
        found = bytes(data[chunk_start : chunk_start + 4096]).find(b"\n")
        if found >= 0:
            return chunk_start + found
    return -1


def _parse_int(line: bytes, offset: int) -> int:
    try:
        return int(line, 0)
    except ValueError:
        pass
    try:
        return int(line)  # base 0 refuses leading zeros that pickle's readers accept
    except ValueError:
        raise PickleBreak(offset, "an integer argument is not a number") from None


def _is_computed(value: Any) -> bool:
    return isinstance(value, Call | Unknown | PersistentRef)


def _walk_args(args: Any, depth: int = 0) -> list[Any]:
    """Every value inside call arguments (tuples, containers, nested calls), a few levels deep."""
    if depth > 4:
        return []
    if isinstance(args, tuple | list):
        found = []
        for item in args:
            found.extend(_walk_args(item, depth + 1))
        return found
    if isinstance(args, Call):
        return _walk_args(args.args, depth + 1)
    return [args]


def _dict_items(value: Any) -> dict[Any, Any]:
    """The key/value pairs of a symbolic dict built with SETITEM(S); unhashable keys skipped."""
    if not isinstance(value, DictItems):
        return {}
    items = value
    result = {}
    for key, item in zip(items[::2], items[1::2], strict=False):
        if isinstance(key, str):
            result[key] = item
    return result


def _dtype_layout(dtype: Any) -> tuple[int | None, bool]:
    """(itemsize, holds Python objects) of a pickled ``numpy.dtype(...)`` call."""
    if not isinstance(dtype, Call) or not isinstance(dtype.args, tuple) or not dtype.args:
        return None, False
    spec = dtype.args[0]
    if not isinstance(spec, str) or not spec:
        return None, False
    kind, digits = spec[0], spec[1:]
    if kind == "O":
        return None, True
    state = dtype.state
    if isinstance(state, tuple) and len(state) >= 6:
        fields = state[4] if len(state) > 4 else None
        if isinstance(fields, DictItems) and any(
            _dtype_layout(item)[1] for item in _walk_args(fields) if isinstance(item, Call)
        ):
            return None, True
        elsize = state[5]
        if isinstance(elsize, int) and elsize > 0:
            return elsize, False
    if kind in "Mm":  # datetime64 / timedelta64, whatever their unit
        return 8, False
    if digits.isdigit():
        return int(digits), False
    return None, False
