"""Instance data as JSON: dates become ISO text so every consumer (API, pages, CLI) agrees; and the
one judge of what data can be stored at all, so hostile input is refused before it reaches a task."""
import datetime as _dt
import json
import re
from decimal import Decimal

from .errors import Invalid

MAX_DEPTH = 32
MAX_INT = 2 ** 63 - 1      # what a database integer column (and every JSON consumer) can hold
_NAME = re.compile(r"^[A-Za-z_]\w{0,79}$")


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


def boolean(value):
    """Yes or no as people and forms write it (`yes`, `true`, `on`, `1`; `no`, `false`, `off`, `0`, an
    unticked box's nothing), or ValueError: the one reading for forms and corrected data alike."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "on", "yes", "1"):
        return True
    if text in ("false", "off", "no", "0", ""):
        return False
    raise ValueError


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


def as_text(value):
    """A stored value as it is shown in a box to edit: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(plain(value), ensure_ascii=False)


def corrections(current, edited, added=None):
    """The values of `edited` ({key: text from a box}) that differ from `current`, each read back as the
    kind of value it was (a number stays a number, yes/no a boolean, a list a list); a text that cannot
    be read so is refused with the field named, so a correction never changes a value's kind by accident.
    `added` (name, text) is a value the data lacked (what a script stopped on): JSON if it reads as JSON
    (`2`, `true`, `[1, 2]`), else text."""
    changed, errors = {}, []
    name, text = added or ("", "")
    if name.strip():
        if not _NAME.match(name.strip()):
            errors.append({"field": "new_name", "message": "use letters, digits and _, starting with a letter"})
        else:
            try:
                changed[name.strip()] = json.loads(text)
            except ValueError:
                changed[name.strip()] = text
    for key, text in edited.items():
        if key not in current or text == as_text(current[key]):
            continue
        was = current[key]
        if isinstance(was, str) or was is None:
            changed[key] = text
            continue
        try:
            value = boolean(text) if isinstance(was, bool) else json.loads(text)
        except ValueError:
            value = ...
        if value is ... or (type(value) is not type(was) and not (isinstance(was, float) and type(value) is int)):
            errors.append({"field": key, "message": f"must be {_kind(was)}, like the value it replaces"})
        else:
            changed[key] = value
    if errors:
        raise Invalid("the corrections were refused", errors)
    return changed


def _kind(value):
    return {bool: "yes or no", int: "a whole number", float: "a number", list: "a list in JSON",
            dict: "an object in JSON"}.get(type(value), "a value")
