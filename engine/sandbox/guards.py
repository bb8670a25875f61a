"""Guards around the operations diagram code performs, run inside the worker.

RestrictedPython refuses what code may *name*; these guards bound what it may *build*. Operators
that build big values (``*``, ``**``, ``<<``, ``+``, ``%``) and the str methods that widen text
are checked before they run, so the common bombs fail fast with a clear message instead of
reaching the worker's memory cap. `policy` rewrites the operators into calls of these functions.
"""
import math
import re

from RestrictedPython.Guards import safer_getattr

from .limits import MAX_INT_BITS, MAX_SEQUENCE, SandboxError

# str methods that build strings of a caller-chosen width: refused outright.
_WIDENING_METHODS = {"ljust", "rjust", "center", "zfill", "expandtabs", "format", "format_map", "translate"}


def _size(value):
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset, range)) else 0


def checked(value):
    """`value`, unless it is a sequence or a number beyond the limits."""
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


def mul(a, b):
    for seq, n in ((a, b), (b, a)):
        if _size(seq) and _is_int(n) and _deep_size(seq) * n > MAX_SEQUENCE:
            raise SandboxError(f"result too large (more than {MAX_SEQUENCE} items)")
    if _is_int(a) and _is_int(b) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise SandboxError(f"number too large (more than {MAX_INT_BITS} bits)")
    return a * b


def power(a, b, modulo=None):
    if modulo is not None:
        return pow(a, b, modulo)
    if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1 and b * math.log2(abs(a)) > MAX_INT_BITS:
        raise SandboxError("exponent too large")
    return a ** b


def lshift(a, b):
    if _is_int(a) and _is_int(b) and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise SandboxError("shift too large")
    return a << b


def add(a, b):
    if _size(a) and _size(b) and _size(a) + _size(b) > MAX_SEQUENCE:
        raise SandboxError(f"result too large (more than {MAX_SEQUENCE} items)")
    return a + b


_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d{4,})|%[-#0 +]*\d*\.(\*|\d{4,})")


def mod(a, b):
    if isinstance(a, str) and _PERCENT_WIDTH.search(a):
        raise SandboxError("%-format widths must be constants below 1000")
    return checked(a % b)


_INPLACE = {"+=": add, "-=": lambda a, b: a - b, "*=": mul,
            "/=": lambda a, b: a / b, "//=": lambda a, b: a // b, "%=": mod,
            "**=": power, "<<=": lshift, ">>=": lambda a, b: a >> b, "|=": lambda a, b: a | b,
            "&=": lambda a, b: a & b, "^=": lambda a, b: a ^ b, "@=": lambda a, b: a @ b}


def inplace(op, a, b):
    return checked(_INPLACE[op](a, b))


# the names the operators are rewritten to call (see `policy`), and what each name is bound to
OPERATOR_GUARDS = {"_mul_": mul, "_pow_": power, "_lshift_": lshift, "_add_": add, "_mod_": mod}


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


_TEXT_GUARDS = {"replace": _str_replace, "join": _str_join}


def getattr_(obj, name, default=None):
    """Guarded attribute access. Text methods that widen are refused, and those that may grow text
    are guarded, on a value (`'a'.ljust`) and on its type alike (`str.ljust('a', 10**8)`)."""
    text = isinstance(obj, (str, bytes))
    if text or obj is str:
        if name in _WIDENING_METHODS:
            raise SandboxError(f"str.{name} is not available in diagram code")
        if name in _TEXT_GUARDS:
            guard = _TEXT_GUARDS[name]
            return Helper(name, guard(obj) if text else lambda value, *args: guard(value)(*args))
    if name == "to_bytes" and (isinstance(obj, int) or obj is int):
        raise SandboxError("int.to_bytes is not available in diagram code")
    return safer_getattr(obj, name, default)


class Helper:
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


def bounded(function):
    """`function` with its result checked against the size limits."""
    def call(*args, **kwargs):
        return checked(function(*args, **kwargs))
    call.__name__ = function.__name__
    return call


def bounded_range(*args):
    r = range(*args)
    if len(r) > MAX_SEQUENCE:
        raise SandboxError(f"result too large ({len(r)} items; the limit is {MAX_SEQUENCE})")
    return r
