"""The only place diagram code runs: conditions, scripts, due dates, timers, collections.

A `.bpmn` file is code written by someone else. SpiffWorkflow's default environment runs it
with plain ``eval``/``exec``; here every expression and script is

- compiled by RestrictedPython (no imports, no dunder names, no frame or code attributes,
  guarded attribute access) against a small vetted set of helpers, and refused at deploy
  when it does not compile;
- run in a separate, long-lived *sandbox worker process* that has no secrets in its
  environment, cannot open files or sockets (RLIMIT_NOFILE), cannot start processes
  (RLIMIT_NPROC), cannot write files (RLIMIT_FSIZE), has a memory cap (RLIMIT_AS) and, when
  the server runs as root, gives up root for `nobody` before it runs anything;
- stopped after `MAX_STEPS` traced steps or `MAX_SECONDS` of wall time. A single C-level
  operation the tracer cannot interrupt (``pow(10, 10**10)``, ``x in huge_list``) is ended by
  the worker's own alarm and, failing that, by this process killing the worker;
- only able to hand back plain data (numbers, text, lists, dicts, sets, tuples, dates,
  date-times, durations) of bounded size, through a JSON codec: nothing a script builds can
  break the workflow serialiser later, and nothing from the worker is unpickled here.

Operators that build big values (``*``, ``**``, ``<<``, ``+``, ``%``) and the str methods that
widen text are guarded inside the worker too, so the common bombs fail fast with a clear
message instead of reaching the memory cap.

Anything the sandbox refuses surfaces as `SandboxError`; ordinary errors of the code
(NameError, KeyError, ZeroDivisionError, ...) keep their type. The runtime turns both into a
visible incident on the element.
"""
import ast
import atexit
import contextlib
import datetime as _dt
import json
import math
import os
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from functools import lru_cache
from pathlib import Path

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from . import workdays

MAX_STEPS = 200_000          # traced lines per evaluation
MAX_SECONDS = 2.0            # wall clock per evaluation
MAX_SEQUENCE = 100_000       # items or characters one operation may build
MAX_INT_BITS = 13_000        # about 3,900 digits: what the JSON serialiser can still write
MAX_NODES = 1_000_000        # values (nested, counted as stored) a script may hand back
MAX_DEPTH = 64               # nesting of the data a script may hand back
MAX_REPLY_BYTES = 16 * 1024 * 1024
MEMORY_BYTES = int(os.environ.get("BATON_SANDBOX_MEMORY_MB", 256)) * 1024 * 1024
MAX_WORKERS = int(os.environ.get("BATON_SANDBOX_WORKERS", 4))
PYTHON = os.environ.get("BATON_SANDBOX_PYTHON", sys.executable)   # the interpreter the workers run on
FILENAME = "<diagram>"
ROOT = Path(__file__).resolve().parent.parent

# str methods that build strings of a caller-chosen width: refused outright.
_WIDENING_METHODS = {"ljust", "rjust", "center", "zfill", "expandtabs", "format", "format_map", "translate"}
# exception classes diagram code may raise and see again here with their type
_PASS_THROUGH = {cls.__name__: cls for cls in (
    NameError, KeyError, TypeError, ValueError, ZeroDivisionError, IndexError, AttributeError, ArithmeticError,
    OverflowError, AssertionError, LookupError, RuntimeError, UnboundLocalError, NotImplementedError)}
# exception classes that are not for diagram code (they stop interpreters, not computations)
# and `id`/`hash`, which give away memory addresses
_HIDDEN_BUILTINS = {"SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException", "pow", "id", "hash"}


class SandboxError(Exception):
    """Diagram code broke a sandbox rule or a limit; the message says which."""


# ---------------------------------------------------------------------------------------------
# Guards (they run inside the worker, around the operations diagram code performs)

def _size(value):
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset, range)) else 0


def _checked(value):
    if _size(value) > MAX_SEQUENCE:
        raise SandboxError(f"result too large ({_size(value)} items; the limit is {MAX_SEQUENCE})")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise SandboxError(f"number too large (more than {MAX_INT_BITS} bits)")
    return value


def _deep_size(value, limit=MAX_SEQUENCE):
    """Items in `value`, nested containers counted as often as they appear; stops past `limit`."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            if total <= limit:
                stack.extend(x for x in item if isinstance(x, (list, tuple, set, frozenset, dict)))
        elif isinstance(item, dict):
            total += len(item)
            if total <= limit:
                stack.extend(x for x in item.values() if isinstance(x, (list, tuple, set, frozenset, dict)))
        elif isinstance(item, (str, bytes)):
            total += len(item)
    return total


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _mul(a, b):
    for seq, n in ((a, b), (b, a)):
        if _size(seq) and _is_int(n) and _deep_size(seq) * n > MAX_SEQUENCE:
            raise SandboxError(f"result too large (more than {MAX_SEQUENCE} items)")
    if _is_int(a) and _is_int(b) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise SandboxError(f"number too large (more than {MAX_INT_BITS} bits)")
    return a * b


def _pow(a, b, modulo=None):
    if modulo is not None:
        return pow(a, b, modulo)
    if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1 and b * math.log2(abs(a)) > MAX_INT_BITS:
        raise SandboxError("exponent too large")
    return a ** b


def _lshift(a, b):
    if _is_int(a) and _is_int(b) and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise SandboxError("shift too large")
    return a << b


def _add(a, b):
    if _size(a) and _size(b) and _size(a) + _size(b) > MAX_SEQUENCE:
        raise SandboxError(f"result too large (more than {MAX_SEQUENCE} items)")
    return a + b


_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d{4,})|%[-#0 +]*\d*\.(\*|\d{4,})")


def _mod(a, b):
    if isinstance(a, str) and _PERCENT_WIDTH.search(a):
        raise SandboxError("%-format widths must be constants below 1000")
    return _checked(a % b)


def _str_replace(text):
    def replace(old, new, count=-1):
        found = text.count(old) if old else len(text) + 1
        if count is not None and count >= 0:
            found = min(found, count)
        if len(text) + found * (len(new) - len(old)) > MAX_SEQUENCE:
            raise SandboxError(f"result too large (more than {MAX_SEQUENCE} characters)")
        return text.replace(old, new, count)
    return replace


def _str_join(separator):
    def join(items):
        items = list(items)
        if len(items) > MAX_SEQUENCE or \
                sum(len(i) if isinstance(i, (str, bytes)) else 0 for i in items) + len(separator) * len(items) \
                > MAX_SEQUENCE:
            raise SandboxError(f"result too large (more than {MAX_SEQUENCE} characters)")
        return separator.join(items)
    return join


_BINOP_GUARDS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Add: "_add_", ast.Mod: "_mod_"}
_INPLACE = {"+=": _add, "-=": lambda a, b: a - b, "*=": _mul,
            "/=": lambda a, b: a / b, "//=": lambda a, b: a // b, "%=": _mod,
            "**=": _pow, "<<=": _lshift, ">>=": lambda a, b: a >> b, "|=": lambda a, b: a | b,
            "&=": lambda a, b: a & b, "^=": lambda a, b: a ^ b, "@=": lambda a, b: a @ b}


def _inplace(op, a, b):
    return _checked(_INPLACE[op](a, b))


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus size guards on the operators that build big values."""

    def visit_FormattedValue(self, node):
        spec = node.format_spec
        parts = spec.values if isinstance(spec, ast.JoinedStr) else []
        if spec is not None and not all(isinstance(p, ast.Constant) and not re.search(r"\d{4,}", str(p.value))
                                        for p in parts):
            self.error(node, "f-string format widths must be constants below 1000")
        return self.node_contents_visit(node)

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)) and node.id in HELPER_NAMES:
            self.error(node, f"{node.id!r} is the name of a helper; give the variable another name")
        return super().visit_Name(node)

    def visit_Import(self, node):
        self.error(node, "import is not allowed in diagram code; use the helpers (date, days, now, ...)")
        return node

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node):
        self.error(node, "class definitions are not allowed in diagram code")
        return node

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        name = _BINOP_GUARDS.get(type(node.op))
        if name is None:
            return node
        func = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        call = ast.Call(func=func, args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


def _getattr(obj, name, default=None):
    """Guarded attribute access. Text methods that widen are refused, and those that may grow text
    are guarded, on a value (`'a'.ljust`) and on its type alike (`str.ljust('a', 10**8)`)."""
    text = isinstance(obj, (str, bytes))
    if text or obj is str:
        if name in _WIDENING_METHODS:
            raise SandboxError(f"str.{name} is not available in diagram code")
        if name in _TEXT_GUARDS:
            guard = _TEXT_GUARDS[name]
            return _Helper(name, guard(obj) if text else lambda value, *args: guard(value)(*args))
    if name == "to_bytes" and (isinstance(obj, int) or obj is int):
        raise SandboxError("int.to_bytes is not available in diagram code")
    return safer_getattr(obj, name, default)


_TEXT_GUARDS = {"replace": _str_replace, "join": _str_join}


class _Helper:
    """A helper as diagram code sees it: callable, and shown by name, never by memory address
    (`repr`, `str`, `hash` and f-strings of a plain function reveal where it lives)."""
    __slots__ = ("_name", "_function")

    def __init__(self, name, function):
        self._name, self._function = name, function

    def __call__(self, *args, **kwargs):
        return self._function(*args, **kwargs)

    def __repr__(self):
        return f"<helper {self._name}>"

    def __hash__(self):
        return hash(self._name)


def _range(*args):
    r = range(*args)
    if len(r) > MAX_SEQUENCE:
        raise SandboxError(f"result too large ({len(r)} items; the limit is {MAX_SEQUENCE})")
    return r


def _parse_date(value):
    """ISO date or date-time text to a date/datetime; dates pass through."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value
    text = str(value)
    return _dt.datetime.fromisoformat(text) if "T" in text or " " in text else _dt.date.fromisoformat(text)


_moment = threading.local()    # the runtime's "now" for the evaluation under way (see engine.clock)
_calendar = {"value": workdays.EVERY_DAY}   # the working days `working_days(n)` counts (see engine.calendars)


def use_calendar(calendar):
    """The working days diagram code counts with from now on, in this process's requests to the sandbox."""
    _calendar["value"] = calendar


def current_calendar():
    return _calendar["value"]


def _now_utc():
    moment = getattr(_moment, "value", None)
    if moment is None:
        from . import clock
        moment = clock.now()
    return moment.replace(tzinfo=_dt.UTC)


def _guarded(function):
    def call(*args, **kwargs):
        return _checked(function(*args, **kwargs))
    call.__name__ = function.__name__
    return call


def _helpers():
    allowed = {name: safe_builtins[name] for name in safe_builtins
               if not name.startswith("_") and name not in _HIDDEN_BUILTINS}
    allowed.update({
        "len": len, "min": min, "max": max, "abs": abs, "round": round,
        "any": any, "all": all, "enumerate": enumerate, "zip": zip,
        "list": list, "dict": dict, "set": set, "map": map, "filter": filter,
        "reversed": reversed, "timedelta": _dt.timedelta,
        "floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt,
    })
    allowed.update({name: _Helper(name, function) for name, function in {
        "range": _range, "sum": _guarded(sum), "sorted": _guarded(sorted), "pow": _pow,
        "days": lambda n: _dt.timedelta(days=n), "hours": lambda n: _dt.timedelta(hours=n),
        "minutes": lambda n: _dt.timedelta(minutes=n), "weeks": lambda n: _dt.timedelta(weeks=n),
        "date": _parse_date, "today": lambda: _now_utc().date(), "now": _now_utc,
        "working_days": lambda n: workdays.WorkingDays(n, _calendar["value"]),
    }.items()})
    return {
        "__builtins__": allowed,
        "_getattr_": _getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplace,
        "_print_": PrintCollector,   # print() in a diagram's script: collected into `printed`, shown nowhere
        "_mul_": _mul, "_pow_": _pow, "_lshift_": _lshift, "_add_": _add, "_mod_": _mod,
    }


HELPER_NAMES = frozenset(k for k in _helpers()["__builtins__"])


# ---------------------------------------------------------------------------------------------
# Compiling (in this process: cheap, and it is how deploy refuses code early)

@lru_cache(maxsize=4096)
def compile_code(source, mode="eval"):
    """Compile diagram code once per distinct text; raise SyntaxError (with lineno) when refused."""
    if source is None:
        raise SyntaxError("an expression is missing (the element has no condition or value)", (FILENAME, 1, 0, ""))
    if not isinstance(source, str):
        raise SyntaxError(f"diagram code must be text, not {type(source).__name__}", (FILENAME, 1, 0, ""))
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(source, filename=FILENAME, policy=_Policy)
    except SyntaxError:
        raise
    except (RecursionError, MemoryError, ValueError, OverflowError) as error:  # nesting, NUL bytes, huge literals
        raise SyntaxError(f"cannot compile: {error.__class__.__name__}: {error}", (FILENAME, 1, 0, source)) from None
    if result.errors:
        message = "; ".join(result.errors)
        line = _first_line_number(result.errors)
        raise SyntaxError(message, (FILENAME, line, 0, source))
    if result.code is None:
        raise SyntaxError("cannot compile", (FILENAME, 1, 0, source))
    return result.code


def _first_line_number(errors):
    for text in errors:
        if text.startswith("Line "):
            head = text[5:].split(":", 1)[0]
            if head.isdigit():
                return int(head)
    return 1


def check(source, mode="eval"):
    """The compile error of `source` as text, or None: used at deploy so designers hear early."""
    try:
        compile_code(source, mode)
    except SyntaxError as error:
        return error.msg
    return None


# ---------------------------------------------------------------------------------------------
# The data codec between this process and the worker: plain JSON with tagged containers.
# Every JSON object in an encoding is a tag ({"l": [...]}, {"d": [[k, v], ...]}, ...), so
# decoding never guesses and never builds anything but the listed types.

class _Unstorable(Exception):
    pass


class _Budget:
    def __init__(self):
        self.nodes = 0
        self.chars = 0

    def spend(self, nodes=1, chars=0):
        self.nodes += nodes
        self.chars += chars
        if self.nodes > MAX_NODES:
            raise SandboxError(f"the data is too large (more than {MAX_NODES} values)")
        if self.chars > MAX_REPLY_BYTES:
            raise SandboxError(f"the data is too large (more than {MAX_REPLY_BYTES} characters)")


def _encode(value, budget, depth=0):
    if depth > MAX_DEPTH:
        raise SandboxError(f"the data is nested too deeply (more than {MAX_DEPTH} levels)")
    budget.spend()
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise SandboxError(f"number too large to store (more than {MAX_INT_BITS} bits)")
        return int(value)
    if isinstance(value, str):
        budget.spend(0, len(value))
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset, range)):
        tag = {list: "l", tuple: "t", range: "l"}.get(type(value), "s")
        if tag == "s":
            try:
                value = sorted(value)
            except TypeError:
                value = list(value)
        budget.spend(len(value))
        return {tag: [_encode(v, budget, depth + 1) for v in value]}
    if isinstance(value, dict):
        budget.spend(len(value))
        return {"d": [[_encode(k, budget, depth + 1), _encode(v, budget, depth + 1)] for k, v in value.items()]}
    if isinstance(value, _dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, _dt.time):
        return {"tm": value.isoformat()}
    if isinstance(value, _dt.timedelta):
        return {"td": [value.days, value.seconds, value.microseconds]}
    raise _Unstorable(type(value).__name__)


_HASHABLE = (type(None), bool, int, float, str, tuple, frozenset, _dt.date, _dt.datetime, _dt.time, _dt.timedelta)


def _decode(item, depth=0):
    if depth > MAX_DEPTH + 1:
        raise SandboxError("malformed reply from the sandbox")
    if item is None or isinstance(item, (bool, int, float, str)):
        return item
    if isinstance(item, dict) and len(item) == 1:
        (tag, body), = item.items()
        if tag in ("l", "t", "s") and isinstance(body, list):
            values = [_decode(v, depth + 1) for v in body]
            if tag == "s":
                if not all(isinstance(v, _HASHABLE) for v in values):
                    raise SandboxError("malformed reply from the sandbox")
                return set(values)
            return tuple(values) if tag == "t" else values
        if tag == "d" and isinstance(body, list) and all(isinstance(p, list) and len(p) == 2 for p in body):
            result = {}
            for key, value in body:
                key = _decode(key, depth + 1)
                if not isinstance(key, _HASHABLE):
                    raise SandboxError("malformed reply from the sandbox")
                result[key] = _decode(value, depth + 1)
            return result
        try:
            if tag == "dt" and isinstance(body, str):
                return _dt.datetime.fromisoformat(body)
            if tag == "date" and isinstance(body, str):
                return _dt.date.fromisoformat(body)
            if tag == "tm" and isinstance(body, str):
                return _dt.time.fromisoformat(body)
            if tag == "td" and isinstance(body, list) and len(body) == 3 and all(type(n) is int for n in body):
                return _dt.timedelta(days=body[0], seconds=body[1], microseconds=body[2])
        except (ValueError, OverflowError):
            pass
    raise SandboxError("malformed reply from the sandbox")


def _dumps(value):
    return json.dumps(value, separators=(",", ":"), allow_nan=True).encode()


# ---------------------------------------------------------------------------------------------
# The worker process

def _write_frame(stream, payload):
    stream.write(struct.pack(">Q", len(payload)) + payload)
    stream.flush()


def _read_exactly(stream, size):
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class _Tracer:
    """A trace function counting steps and wall time of one evaluation."""

    def __init__(self):
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def __call__(self, frame, event, arg):
        if event == "call" and frame.f_code.co_filename != FILENAME:
            return None         # the helpers and guards are ours: not traced, not counted
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SandboxError(f"diagram code ran more than {MAX_STEPS} steps")
        if self.steps % 1000 == 0 and time.monotonic() > self.deadline:
            raise SandboxError(f"diagram code ran longer than {MAX_SECONDS} s")
        return self


def _line_of(error):
    line, trace = None, error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == FILENAME:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def _evaluate(source, mode, names):
    """Run one request inside the worker; return the reply as JSON-able data."""
    code = compile_code(source, mode)
    scope = dict(_helpers())
    scope.update(names)
    previous = sys.gettrace()
    sys.settrace(_Tracer())
    try:
        if mode == "eval":
            result = eval(code, scope)  # noqa: S307 - restricted code object, in the worker
        else:
            exec(code, scope)  # noqa: S102 - restricted code object, in the worker
    finally:
        sys.settrace(previous)
    budget = _Budget()
    if mode == "eval":
        try:
            return ["ok", _encode(result, budget)]
        except _Unstorable as kind:
            raise SandboxError(f"the expression gave a {kind} value, which is not data") from None
    assigned = []
    for key, value in scope.items():
        if key.startswith("_") or (key in HELPER_NAMES and key not in names) or callable(value) \
                or type(value).__name__ == "module":
            continue
        try:
            assigned.append([key, _encode(value, budget)])
        except _Unstorable as kind:
            raise SandboxError(f"variable {key!r} holds a {kind} value, which cannot be stored") from None
    deleted = [key for key in names if key not in scope]
    return ["ok", {"d": [[k, v] for k, v in assigned]}, deleted]


def _reply_for(error):
    if isinstance(error, SandboxError):
        return ["refused", str(error), _line_of(error)]
    if isinstance(error, RecursionError):
        return ["refused", "diagram code recursed too deeply", _line_of(error)]
    if isinstance(error, MemoryError):
        return ["refused", "diagram code used too much memory", _line_of(error)]
    args = error.args
    message = args[0] if len(args) == 1 and isinstance(args[0], str) else str(error)
    return ["error", error.__class__.__name__, message, _line_of(error)]


def _limit_worker():
    """Resource limits of the worker process: no files, no sockets, no processes, bounded memory."""
    import resource
    if os.geteuid() == 0:   # root ignores RLIMIT_NPROC and may raise limits again: become nobody first
        try:
            import pwd
            nobody = pwd.getpwnam("nobody")
            uid, gid = nobody.pw_uid, nobody.pw_gid
        except (ImportError, KeyError):
            uid = gid = 65534
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        except OSError:
            pass
    try:
        with open("/proc/self/status") as status:
            size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        size = 0
    limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_NPROC, 0)]
    if size:
        limits.append((resource.RLIMIT_AS, size + MEMORY_BYTES))
    for limit, value in limits:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(limit, (value, value))
    try:
        highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    except (OSError, ValueError):
        highest = 2
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, highest + 1))


def _serve():
    """The worker's main loop: read a request, evaluate it, write the reply; exit on end of input."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    devnull = open(os.devnull, "w")  # noqa: SIM115 - for the life of the worker
    sys.stdout = sys.stderr = devnull
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is for the server, which ends us by EOF
    signal.signal(signal.SIGALRM, signal.SIG_DFL)      # an overrun ends the worker even inside C code
    _moment.value = _dt.datetime(2000, 1, 1)
    _evaluate("len([1]) + 1", "eval", {})              # warm up every import before the limits apply
    _evaluate("x = [date('2024-01-01'), days(1), now(), {1: (2,)}, {3}]", "exec", {})
    _limit_worker()
    while True:
        header = _read_exactly(stdin, 8)
        if header is None:
            return
        body = _read_exactly(stdin, struct.unpack(">Q", header)[0])
        if body is None:
            return
        signal.setitimer(signal.ITIMER_REAL, MAX_SECONDS + 1.0)
        try:
            request = json.loads(body)
            source, mode, moment = request["source"], request["mode"], request["now"]
            _calendar["value"] = request.get("calendar") or workdays.EVERY_DAY
            _moment.value = _dt.datetime.fromisoformat(moment)
            reply = _evaluate(source, mode, _decode(request["names"]))
            payload = _dumps(reply)
            if len(payload) > MAX_REPLY_BYTES:
                raise SandboxError(f"the data is too large (more than {MAX_REPLY_BYTES} bytes)")
        except BaseException as error:  # noqa: BLE001 - everything becomes a reply
            try:
                payload = _dumps(_reply_for(error))
            except BaseException:  # noqa: BLE001
                payload = _dumps(["refused", "diagram code failed in a way that cannot be reported", None])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        _write_frame(stdout, payload)


_BOOT = ("import sys; sys.path.insert(0, {root!r}); sys.setrecursionlimit(400); "
         "from engine.sandbox import _serve; _serve()")


class _Lost(Exception):
    """The worker died or overran; the message says why."""


class _Worker:
    def __init__(self):
        env = {"LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "BATON_SANDBOX_MEMORY_MB": str(MEMORY_BYTES >> 20)}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter running our own module
            [PYTHON, "-I", "-c", _BOOT.format(root=str(ROOT))], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/", env=env, close_fds=True,
            start_new_session=True)
        self.pid = os.getpid()

    def alive(self):
        return self.process.poll() is None

    def call(self, payload, timeout):
        try:
            _write_frame(self.process.stdin, payload)
        except (BrokenPipeError, OSError):
            raise _Lost("the sandbox worker stopped") from None
        deadline = time.monotonic() + timeout
        header = self._read(8, deadline)
        size = struct.unpack(">Q", header)[0]
        if size > MAX_REPLY_BYTES + 1024:
            raise _Lost("the sandbox worker sent an oversized reply")
        return self._read(size, deadline)

    def _read(self, size, deadline):
        fd, chunks, left = self.process.stdout.fileno(), [], size
        while left:
            remaining = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(remaining, 0))[0] if remaining > 0 else []
            if not ready:
                raise _Lost(f"diagram code ran longer than {MAX_SECONDS} s")
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                self.process.wait(timeout=5)
                code = self.process.returncode
                if code == -signal.SIGALRM:
                    raise _Lost(f"diagram code ran longer than {MAX_SECONDS} s")
                if code in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT):
                    raise _Lost("diagram code used too much memory or crashed the sandbox")
                raise _Lost(f"the sandbox worker stopped (exit status {code})")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self):
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        self._release()

    def kill(self):
        try:
            self.process.kill()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._release()

    def _release(self):
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()


class _Pool:
    """Idle workers, reused; at most MAX_WORKERS evaluations at once per server process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(MAX_WORKERS)
        self.idle = []
        self.pid = os.getpid()

    def call(self, payload):
        with self.slots:
            worker = self._take()
            try:
                reply = worker.call(payload, MAX_SECONDS + 2.0)
            except _Lost as lost:
                worker.kill()
                raise SandboxError(str(lost)) from None
            except BaseException:
                worker.kill()
                raise
            with self.lock:
                self.idle.append(worker)
            return reply

    def _take(self):
        with self.lock:
            if self.pid != os.getpid():     # forked: the workers belong to the parent
                self.idle, self.pid = [], os.getpid()
            while self.idle:
                worker = self.idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return _Worker()

    def close(self):
        with self.lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            if worker.pid == os.getpid():
                worker.close()


_POOL = _Pool()
atexit.register(_POOL.close)


def shutdown():
    """Stop the idle sandbox workers (they are started again when needed)."""
    _POOL.close()


def worker_pids():
    """Process ids of the idle sandbox workers (for tests and diagnostics)."""
    with _POOL.lock:
        return [w.process.pid for w in _POOL.idle if w.alive()]


# ---------------------------------------------------------------------------------------------
# The API the runtime uses

def run(source, names, mode="eval"):
    """Evaluate an expression (mode "eval") or run a script (mode "exec") over `names`.

    For scripts, `names` is updated in place with the variables the script assigns (and loses
    those it deletes). Values that are not data (functions, modules, ...) are not passed in.
    """
    compile_code(source, mode)
    budget, encoded = _Budget(), []
    for key, value in names.items():
        # a helper's name always means the helper: data named `date` or `now` would hide it
        if not isinstance(key, str) or key.startswith("_") or key in HELPER_NAMES:
            continue
        try:
            encoded.append([key, _encode(value, budget)])
        except _Unstorable:
            continue
    from . import clock
    request = _dumps({"source": source, "mode": mode, "now": clock.now().isoformat(), "names": {"d": encoded},
                      "calendar": _calendar["value"]})
    try:
        reply = json.loads(_POOL.call(request))
    except ValueError:
        raise SandboxError("malformed reply from the sandbox") from None
    if not isinstance(reply, list) or not reply:
        raise SandboxError("malformed reply from the sandbox")
    if reply[0] == "refused" and len(reply) == 3:
        raise SandboxError(_with_line(str(reply[1]), reply[2], mode))
    if reply[0] == "error" and len(reply) == 4:
        cls = _PASS_THROUGH.get(reply[1])
        message = _with_line(str(reply[2]), reply[3], mode)
        if cls is None:
            raise SandboxError(f"{reply[1]}: {message}")
        raise cls(message)
    if reply[0] == "ok" and mode == "eval" and len(reply) == 2:
        return _decode(reply[1])
    if reply[0] == "ok" and mode == "exec" and len(reply) == 3 and isinstance(reply[2], list):
        assigned = _decode(reply[1])
        if not isinstance(assigned, dict) or not all(isinstance(k, str) for k in assigned):
            raise SandboxError("malformed reply from the sandbox")
        names.update(assigned)
        for key in reply[2]:
            if isinstance(key, str):
                names.pop(key, None)
        return None
    raise SandboxError("malformed reply from the sandbox")


def _with_line(message, line, mode):
    return f"{message} (line {line})" if mode == "exec" and isinstance(line, int) else message


class SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment with every evaluation going through `run`."""

    def evaluate(self, expression, context, external_context=None):
        names = dict(external_context or {})
        names.update(context)
        return run(expression, names, "eval")

    def execute(self, script, context, external_context=None):
        names = dict(external_context or {})
        names.update(context)
        run(script, names, "exec")
        for key in list(context):
            if key not in names:
                del context[key]
        context.update({k: v for k, v in names.items() if not (external_context and k in external_context)})
        return True


def script_engine():
    """A SpiffWorkflow script engine that runs everything in the sandbox."""
    return PythonScriptEngine(environment=SandboxEnvironment())
