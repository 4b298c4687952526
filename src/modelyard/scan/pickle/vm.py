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
from dataclasses import dataclass, field
from typing import Any

from modelyard.scan.options import ScanOptions
from modelyard.scan.pickle.values import Blob, Call, Container, Global, PersistentRef, Unknown
from modelyard.scan.policy import READS_NESTED_PICKLES

# Values longer than this are kept as offsets into the input rather than copied.
_BLOB_THRESHOLD = 1 << 16

_unpack_i = struct.Struct("<i").unpack_from
_unpack_I = struct.Struct("<I").unpack_from
_unpack_H = struct.Struct("<H").unpack_from
_unpack_Q = struct.Struct("<Q").unpack_from
_unpack_d = struct.Struct(">d").unpack_from

JOBLIB_ARRAY_WRAPPER = Global("joblib.numpy_pickle", "NumpyArrayWrapper")
_CODECS_ENCODE = Global("_codecs", "encode")


class PickleBreak(Exception):
    """The stream stops following the pickle format at ``offset``; a loader would fail there."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


class PickleLimit(PickleBreak):
    """The stream asks for more than ``ScanOptions`` allows."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something the policy must judge, at ``offset`` in the stream."""

    kind: str  # "global", "computed-call", "computed-global", "ext", "build-on-global", "nested"
    offset: int
    subject: Any
    detail: str = ""


@dataclass
class Trace:
    """Everything one run of the machine saw."""

    events: list[Event] = field(default_factory=list)
    persistent_ids: list[Any] = field(default_factory=list)
    pickles: int = 0
    calls: int = 0
    joblib_arrays: int = 0
    result: Any = None


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


def _parse_string_literal(line: bytes, offset: int) -> str:
    """STRING's argument: a quoted Python 2 literal, escape-decoded like ``pickle`` does."""
    if len(line) >= 2 and line[0] == line[-1] and line[:1] in (b"'", b'"'):
        return codecs.escape_decode(line[1:-1])[0].decode("latin-1")
    raise PickleBreak(offset, "STRING argument is not a quoted string")


class Machine:
    """Runs pickles from one buffer; a new ``Machine`` per stream."""

    def __init__(self, data: Any, options: ScanOptions, trace: Trace | None = None) -> None:
        self.data = data
        self.size = len(data)
        self.options = options
        self.trace = trace or Trace()

    def bytes_of(self, value: Any) -> bytes | memoryview | None:
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
        options = self.options
        max_memo = options.max_memo_index
        max_marks = options.max_mark_depth
        stack: list[Any] = []
        metastack: list[list[Any]] = []
        memo: dict[int, Any] = {}
        proto = 0
        start = pos

        def need(count: int, at: int) -> None:
            if at + count > size:
                raise PickleBreak(at, "the stream ends in the middle of an opcode argument")

        def readline(at: int) -> tuple[bytes, int]:
            end = _find_newline(data, at, size)
            if end < 0:
                raise PickleBreak(at, "the stream ends before a line-terminated argument")
            return bytes(data[at:end]), end + 1

        def take(count: int, at: int) -> Any:
            if count < 0 or at + count > size:
                raise PickleBreak(at, "a length field points past the end of the stream")
            if count > _BLOB_THRESHOLD:
                return Blob(at, at + count)
            return bytes(data[at : at + count])

        def pop_mark(at: int) -> list[Any]:
            nonlocal stack
            if not metastack:
                raise PickleBreak(at, "an opcode needs a MARK but none is on the stack")
            items = stack
            stack = metastack.pop()
            return items

        def pop(at: int) -> Any:
            if not stack:
                raise PickleBreak(at, "an opcode pops from an empty stack")
            return stack.pop()

        def put(index: int, value: Any, at: int) -> None:
            if index < 0 or index > max_memo:
                raise PickleLimit(at, f"memo index {index} is beyond the limit of {max_memo}")
            memo[index] = value

        def get(index: int, at: int) -> Any:
            try:
                return memo[index]
            except KeyError:
                raise PickleBreak(at, f"memo key {index} was never stored") from None

        def find_global(module: str, name: str, at: int) -> Global:
            if proto < 3:
                if (module, name) in _compat_pickle.NAME_MAPPING:
                    module, name = _compat_pickle.NAME_MAPPING[(module, name)]
                elif module in _compat_pickle.IMPORT_MAPPING:
                    module = _compat_pickle.IMPORT_MAPPING[module]
            found = Global(module, name)
            events.append(Event("global", at, found))
            return found

        def call(func: Any, args: Any, at: int, how: str) -> Any:
            trace.calls += 1
            if not isinstance(func, Global):
                events.append(Event("computed-call", at, func, how))
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
                        events.append(Event("nested", at, (func, blob)))
            return Call(func, args, at)

        while True:
            if pos >= size:
                raise PickleBreak(pos, "the stream ends before the pickle's STOP opcode")
            at = pos
            op = data[pos]
            pos += 1
            # Ordered roughly by how often real model pickles use each opcode.
            if op == 0x71:  # BINPUT
                need(1, pos)
                put(data[pos], stack[-1] if stack else None, at)
                pos += 1
            elif op == 0x94:  # MEMOIZE
                put(len(memo), stack[-1] if stack else None, at)
            elif op == 0x68:  # BINGET
                need(1, pos)
                stack.append(get(data[pos], at))
                pos += 1
            elif op == 0x58:  # BINUNICODE
                need(4, pos)
                length = _unpack_I(data, pos)[0]
                raw = take(length, pos + 4)
                stack.append(_decode_text(self._materialize(raw)))
                pos += 4 + length
            elif op == 0x8C:  # SHORT_BINUNICODE
                need(1, pos)
                length = data[pos]
                need(length, pos + 1)
                stack.append(_decode_text(bytes(data[pos + 1 : pos + 1 + length])))
                pos += 1 + length
            elif op == 0x4B:  # BININT1
                need(1, pos)
                stack.append(data[pos])
                pos += 1
            elif op == 0x4D:  # BININT2
                need(2, pos)
                stack.append(_unpack_H(data, pos)[0])
                pos += 2
            elif op == 0x4A:  # BININT
                need(4, pos)
                stack.append(_unpack_i(data, pos)[0])
                pos += 4
            elif op == 0x28:  # MARK
                if len(metastack) >= max_marks:
                    raise PickleLimit(at, f"more than {max_marks} nested MARKs")
                metastack.append(stack)
                stack = []
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op == 0x85:  # TUPLE1
                stack.append((pop(at),))
            elif op == 0x86:  # TUPLE2
                second = pop(at)
                stack.append((pop(at), second))
            elif op == 0x87:  # TUPLE3
                third = pop(at)
                second = pop(at)
                stack.append((pop(at), second, third))
            elif op == 0x74:  # TUPLE
                items = pop_mark(at)  # rebinds ``stack``: never inline into stack.append(...)
                stack.append(tuple(items))
            elif op == 0x5D:  # EMPTY_LIST
                stack.append(Container("list"))
            elif op == 0x7D:  # EMPTY_DICT
                stack.append(Container("dict"))
            elif op == 0x8F:  # EMPTY_SET
                stack.append(Container("set"))
            elif op == 0x6C:  # LIST
                items = pop_mark(at)
                stack.append(Container("list", items))
            elif op == 0x64:  # DICT
                items = pop_mark(at)
                stack.append(Container("dict", items))
            elif op == 0x91:  # FROZENSET
                items = pop_mark(at)
                stack.append(Container("frozenset", items))
            elif op in (0x61, 0x65, 0x73, 0x75, 0x90):  # APPEND APPENDS SETITEM SETITEMS ADDITEMS
                if op == 0x61:
                    items = [pop(at)]
                elif op == 0x73:
                    value = pop(at)
                    items = [pop(at), value]
                else:
                    items = pop_mark(at)
                target = pop(at) if stack else None
                if target is None:
                    raise PickleBreak(at, "an item opcode has no container to add to")
                if isinstance(target, Container):
                    target.items.extend(items)
                elif not isinstance(target, Call):
                    # A loader calls target.append/extend/__setitem__: only objects made at load
                    # time can have such methods; anything else fails to load.
                    raise PickleBreak(at, "items are added to something that is not a container")
                stack.append(target)
            elif op == 0x4E:  # NONE
                stack.append(None)
            elif op == 0x88:  # NEWTRUE
                stack.append(True)
            elif op == 0x89:  # NEWFALSE
                stack.append(False)
            elif op == 0x47:  # BINFLOAT
                need(8, pos)
                stack.append(_unpack_d(data, pos)[0])
                pos += 8
            elif op == 0x8A:  # LONG1
                need(1, pos)
                length = data[pos]
                need(length, pos + 1)
                raw = bytes(data[pos + 1 : pos + 1 + length])
                stack.append(int.from_bytes(raw, "little", signed=True))
                pos += 1 + length
            elif op == 0x8B:  # LONG4
                need(4, pos)
                length = _unpack_i(data, pos)[0]
                if length < 0:
                    raise PickleBreak(at, "LONG4 has a negative length")
                raw = take(length, pos + 4)
                stack.append(int.from_bytes(self._materialize(raw), "little", signed=True))
                pos += 4 + length
            elif op in (0x43, 0x42, 0x8E, 0x96):  # SHORT_BINBYTES BINBYTES BINBYTES8 BYTEARRAY8
                width = {0x43: 1, 0x42: 4, 0x8E: 8, 0x96: 8}[op]
                need(width, pos)
                if width == 1:
                    length = data[pos]
                elif width == 4:
                    length = _unpack_I(data, pos)[0]
                else:
                    length = _unpack_Q(data, pos)[0]
                stack.append(take(length, pos + width))
                pos += width + length
            elif op in (0x55, 0x54):  # SHORT_BINSTRING BINSTRING
                width = 1 if op == 0x55 else 4
                need(width, pos)
                length = data[pos] if width == 1 else _unpack_i(data, pos)[0]
                raw = take(length, pos + width)
                stack.append(self._materialize(raw).decode("latin-1"))
                pos += width + length
            elif op == 0x8D:  # BINUNICODE8
                need(8, pos)
                length = _unpack_Q(data, pos)[0]
                raw = take(length, pos + 8)
                stack.append(_decode_text(self._materialize(raw)))
                pos += 8 + length
            elif op == 0x72:  # LONG_BINPUT
                need(4, pos)
                put(_unpack_I(data, pos)[0], stack[-1] if stack else None, at)
                pos += 4
            elif op == 0x6A:  # LONG_BINGET
                need(4, pos)
                stack.append(get(_unpack_I(data, pos)[0], at))
                pos += 4
            elif op == 0x70:  # PUT
                line, pos = readline(pos)
                put(_parse_int(line, at), stack[-1] if stack else None, at)
            elif op == 0x67:  # GET
                line, pos = readline(pos)
                stack.append(get(_parse_int(line, at), at))
            elif op == 0x32:  # DUP
                if not stack:
                    raise PickleBreak(at, "DUP on an empty stack")
                stack.append(stack[-1])
            elif op == 0x30:  # POP
                if stack:
                    stack.pop()
                else:
                    pop_mark(at)
            elif op == 0x31:  # POP_MARK
                pop_mark(at)
            elif op == 0x63:  # GLOBAL
                module_line, pos = readline(pos)
                name_line, pos = readline(pos)
                stack.append(find_global(_decode_text(module_line), _decode_text(name_line), at))
            elif op == 0x93:  # STACK_GLOBAL
                name = pop(at)
                module = pop(at)
                if isinstance(module, str) and isinstance(name, str):
                    stack.append(find_global(module, name, at))
                elif _is_computed(module) or _is_computed(name):
                    events.append(Event("computed-global", at, (module, name)))
                    stack.append(Unknown("a global whose name is computed at load time"))
                else:
                    raise PickleBreak(at, "STACK_GLOBAL operands are not strings")
            elif op == 0x52:  # REDUCE
                args = pop(at)
                func = pop(at)
                stack.append(call(func, args, at, "REDUCE"))
            elif op == 0x81:  # NEWOBJ
                args = pop(at)
                cls = pop(at)
                stack.append(call(cls, args, at, "NEWOBJ"))
            elif op == 0x92:  # NEWOBJ_EX
                kwargs = pop(at)
                args = pop(at)
                cls = pop(at)
                stack.append(call(cls, (args, kwargs), at, "NEWOBJ_EX"))
            elif op == 0x6F:  # OBJ
                items = pop_mark(at)
                if not items:
                    raise PickleBreak(at, "OBJ without a class")
                stack.append(call(items[0], tuple(items[1:]), at, "OBJ"))
            elif op == 0x69:  # INST
                module_line, pos = readline(pos)
                name_line, pos = readline(pos)
                cls = find_global(_decode_text(module_line), _decode_text(name_line), at)
                items = pop_mark(at)
                stack.append(call(cls, tuple(items), at, "INST"))
            elif op == 0x62:  # BUILD
                state = pop(at)
                if not stack:
                    raise PickleBreak(at, "BUILD on an empty stack")
                target = stack[-1]
                if isinstance(target, Global):
                    events.append(Event("build-on-global", at, target))
                elif isinstance(target, Call):
                    target.state = state
                    if target.func == JOBLIB_ARRAY_WRAPPER:
                        pos = self._skip_joblib_array(target, pos)
            elif op == 0x95:  # FRAME
                need(8, pos)
                pos += 8
            elif op == 0x80:  # PROTO
                need(1, pos)
                proto = data[pos]
                if proto > 5:
                    raise PickleBreak(at, f"unsupported pickle protocol {proto}")
                pos += 1
            elif op == 0x2E:  # STOP
                trace.result = pop(at)
                trace.pickles += 1
                return pos
            elif op in (0x50, 0x51):  # PERSID BINPERSID
                if op == 0x50:
                    line, pos = readline(pos)
                    pid: Any = line.decode("ascii", "replace")
                else:
                    pid = pop(at)
                trace.persistent_ids.append(pid)
                if isinstance(pid, tuple) and len(pid) > 1 and pid[0] == "module":
                    # PyTorch's legacy format passes module classes this way and its
                    # persistent_load returns the class itself (already judged as a global).
                    stack.append(pid[1])
                else:
                    stack.append(PersistentRef(pid))
            elif op in (0x82, 0x83, 0x84):  # EXT1 EXT2 EXT4
                width = {0x82: 1, 0x83: 2, 0x84: 4}[op]
                need(width, pos)
                code = int.from_bytes(data[pos : pos + width], "little", signed=width == 4)
                pos += width
                events.append(Event("ext", at, code))
                stack.append(Unknown(f"extension registry code {code}"))
            elif op == 0x49:  # INT (also the protocol 0 spelling of True and False)
                line, pos = readline(pos)
                if line == b"00":
                    stack.append(False)
                elif line == b"01":
                    stack.append(True)
                else:
                    stack.append(_parse_int(line, at))
            elif op == 0x4C:  # LONG
                line, pos = readline(pos)
                stack.append(_parse_int(line.removesuffix(b"L"), at))
            elif op == 0x46:  # FLOAT
                line, pos = readline(pos)
                try:
                    stack.append(float(line))
                except ValueError:
                    raise PickleBreak(at, "FLOAT argument is not a number") from None
            elif op == 0x53:  # STRING
                line, pos = readline(pos)
                stack.append(_parse_string_literal(line, at))
            elif op == 0x56:  # UNICODE
                line, pos = readline(pos)
                stack.append(line.decode("raw-unicode-escape"))
            elif op == 0x97:  # NEXT_BUFFER
                stack.append(Unknown("an out-of-band buffer"))
            elif op == 0x98:  # READONLY_BUFFER
                if not stack:
                    raise PickleBreak(at, "READONLY_BUFFER on an empty stack")
            else:
                raise PickleBreak(at, f"byte 0x{op:02x} is not a pickle opcode")
            if pos - start > options.max_pickle_bytes:
                raise PickleLimit(at, "the pickle is larger than max_pickle_bytes")

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
    if isinstance(args, Container):
        return _walk_args(args.items, depth + 1)
    if isinstance(args, Call):
        return _walk_args(args.args, depth + 1)
    return [args]


def _dict_items(value: Any) -> dict[Any, Any]:
    """The key/value pairs of a symbolic dict built with SETITEM(S); unhashable keys skipped."""
    if not isinstance(value, Container) or value.kind != "dict":
        return {}
    items = value.items
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
        if isinstance(fields, Container) and any(
            _dtype_layout(item)[1] for item in _walk_args(fields.items) if isinstance(item, Call)
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
