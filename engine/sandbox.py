"""The only place diagram code runs: conditions, scripts, due dates, timers, collections.

A `.bpmn` file is code written by someone else. SpiffWorkflow's default environment runs it
with plain ``eval``/``exec``; here every expression and script is compiled by RestrictedPython
(no imports, no dunder names, guarded attribute access), runs against a small vetted set of
helpers, and is stopped when it takes too many steps or too long, or tries to build something
huge. Anything the sandbox refuses surfaces as `SandboxError`, which the runtime turns into a
visible incident on the element.
"""
import ast
import datetime as _dt
import math
import re
import sys
import time
from functools import lru_cache

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

MAX_STEPS = 200_000          # traced lines per evaluation
MAX_SECONDS = 2.0            # wall clock per evaluation
MAX_SEQUENCE = 100_000       # items or characters one operation may build
FILENAME = "<diagram>"

# str methods that build strings of a caller-chosen width: refused outright.
_WIDENING_METHODS = {"ljust", "rjust", "center", "zfill", "expandtabs", "format", "format_map"}


class SandboxError(Exception):
    """Diagram code broke a sandbox rule or a limit; the message says which."""


def _size(value):
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) else 0


def _checked(value):
    if _size(value) > MAX_SEQUENCE:
        raise SandboxError(f"result too large ({_size(value)} items; the limit is {MAX_SEQUENCE})")
    return value


def _mul(a, b):
    for seq, n in ((a, b), (b, a)):
        if _size(seq) and isinstance(n, int) and _size(seq) * n > MAX_SEQUENCE:
            raise SandboxError(f"result too large (more than {MAX_SEQUENCE} items)")
    return a * b


def _pow(a, b):
    if isinstance(a, int) and isinstance(b, int) and abs(b) > 1000 and abs(a) > 1:
        raise SandboxError("exponent too large")
    return a ** b


def _lshift(a, b):
    if isinstance(b, int) and b > 1000:
        raise SandboxError("shift too large")
    return a << b


_BINOP_GUARDS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_"}
_INPLACE = {"+=": lambda a, b: _checked(a + b), "-=": lambda a, b: a - b, "*=": _mul,
            "/=": lambda a, b: a / b, "//=": lambda a, b: a // b, "%=": lambda a, b: a % b,
            "**=": _pow, "<<=": _lshift, ">>=": lambda a, b: a >> b, "|=": lambda a, b: a | b,
            "&=": lambda a, b: a & b, "^=": lambda a, b: a ^ b}


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus size guards on the operators that build big values."""

    def visit_FormattedValue(self, node):
        spec = node.format_spec
        parts = spec.values if isinstance(spec, ast.JoinedStr) else []
        if spec is not None and not all(isinstance(p, ast.Constant) and not re.search(r"\d{4,}", str(p.value))
                                        for p in parts):
            self.error(node, "f-string format widths must be constants below 1000")
        return self.node_contents_visit(node)

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        name = _BINOP_GUARDS.get(type(node.op))
        if name is None:
            return node
        func = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        call = ast.Call(func=func, args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


def _getattr(obj, name, default=None):
    if isinstance(obj, str) and name in _WIDENING_METHODS:
        raise SandboxError(f"str.{name} is not available in diagram code")
    return safer_getattr(obj, name, default)


def _range(*args):
    r = range(*args)
    return _checked(r) if len(r) <= MAX_SEQUENCE else _checked([0] * (MAX_SEQUENCE + 1))


def _parse_date(value):
    """ISO date or date-time text to a date/datetime; dates pass through."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value
    text = str(value)
    return _dt.datetime.fromisoformat(text) if "T" in text or " " in text else _dt.date.fromisoformat(text)


def _helpers():
    allowed = {name: safe_builtins[name] for name in safe_builtins if not name.startswith("_")}
    allowed.update({
        "range": _range, "len": len, "sum": sum, "min": min, "max": max, "abs": abs, "round": round,
        "sorted": sorted, "any": any, "all": all, "enumerate": enumerate, "zip": zip, "list": list,
        "dict": dict, "set": set, "map": map, "filter": filter, "reversed": reversed,
        "days": lambda n: _dt.timedelta(days=n), "hours": lambda n: _dt.timedelta(hours=n),
        "minutes": lambda n: _dt.timedelta(minutes=n), "weeks": lambda n: _dt.timedelta(weeks=n),
        "date": _parse_date, "timedelta": _dt.timedelta,
        "today": lambda: _dt.date.today(), "now": lambda: _dt.datetime.now(_dt.timezone.utc),
        "floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt,
    })
    return {
        "__builtins__": allowed,
        "_getattr_": _getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": lambda op, a, b: _INPLACE[op](a, b),
        "_print_": None,
        "_mul_": _mul, "_pow_": _pow, "_lshift_": _lshift,
    }


HELPER_NAMES = frozenset(k for k in _helpers()["__builtins__"])


@lru_cache(maxsize=4096)
def compile_code(source, mode="eval"):
    """Compile diagram code once per distinct text; raise SyntaxError (with lineno) when refused."""
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(source, filename=FILENAME, policy=_Policy)
    if result.errors:
        message = "; ".join(result.errors)
        line = _first_line_number(result.errors)
        raise SyntaxError(message, (FILENAME, line, 0, source))
    return result.code


def _first_line_number(errors):
    for text in errors:
        if text.startswith("Line "):
            head = text[5:].split(":", 1)[0]
            if head.isdigit():
                return int(head)
    return 1


class _Budget:
    """A trace function counting steps and wall time of one evaluation."""

    def __init__(self):
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def __call__(self, frame, event, arg):
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SandboxError(f"diagram code ran more than {MAX_STEPS} steps")
        if self.steps % 1000 == 0 and time.monotonic() > self.deadline:
            raise SandboxError(f"diagram code ran longer than {MAX_SECONDS} s")
        return self


def run(source, names, mode="eval"):
    """Evaluate an expression (mode "eval") or run a script (mode "exec") over `names`.

    For scripts, `names` is updated in place with the variables the script assigns.
    """
    code = compile_code(source, mode)
    scope = dict(_helpers())
    scope.update(names)
    previous = sys.gettrace()
    sys.settrace(_Budget())
    try:
        if mode == "eval":
            return _checked(eval(code, scope))  # noqa: S307 - restricted code object
        exec(code, scope)  # noqa: S102 - restricted code object
    except SandboxError:
        raise
    except RecursionError as error:
        raise SandboxError("diagram code recursed too deeply") from error
    except MemoryError as error:
        raise SandboxError("diagram code used too much memory") from error
    finally:
        sys.settrace(previous)
    for key, value in scope.items():
        if not key.startswith("_") and key not in HELPER_NAMES and not callable(value):
            names[key] = _checked(value)
    for key in [k for k in names if k not in scope]:
        del names[key]
    return None


def check(source, mode="eval"):
    """The compile error of `source` as text, or None: used at deploy so designers hear early."""
    try:
        compile_code(source, mode)
    except SyntaxError as error:
        return error.msg
    return None


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
