"""Instance data as JSON: dates become ISO text so every consumer (API, pages, CLI) agrees; and the
one judge of what data can be stored at all, so hostile input is refused before it reaches a task."""
import datetime as _dt
from decimal import Decimal

MAX_DEPTH = 32
MAX_INT = 2 ** 63 - 1      # what a database integer column (and every JSON consumer) can hold


def plain(value):
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def text_problem(text):
    """Why `text` cannot be stored, or None: NUL characters and lone surrogates break databases."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def unstorable(value, path="data", depth=0):
    """The first (path, reason) why `value` cannot be instance data, or None."""
    if depth > MAX_DEPTH:
        return path, f"is nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        reason = text_problem(value)
        return (path, reason) if reason else None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        return path, "is a number beyond 64 bits"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        reason = text_problem(key) if isinstance(key, str) else None
        found = (f"{path}.{key!r}", f"has a key that {reason}") if reason else \
            unstorable(item, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]", depth + 1)
        if found:
            return found
    return None
