"""The data codec between the server and a worker: plain JSON with tagged containers.

Every JSON object in an encoding is a tag (``{"l": [...]}``, ``{"d": [[k, v], ...]}``, ...), so
decoding never guesses and never builds anything but the listed types: numbers, text, lists,
tuples, sets, dicts, dates, date-times, times and durations. Nothing a script builds can break
the workflow serialiser later, and nothing from a worker is unpickled. `Budget` bounds what one
message may hold.
"""
import datetime as _dt
import json
from decimal import Decimal

from .limits import MAX_DEPTH, MAX_INT_BITS, MAX_NODES, MAX_REPLY_BYTES, SandboxError


class Unstorable(Exception):
    """A value the codec cannot carry; the message is its type's name."""


class Budget:
    """Values and characters one message has used so far."""

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


def encode(value, budget, depth=0):
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
        return {tag: [encode(v, budget, depth + 1) for v in value]}
    if isinstance(value, dict):
        budget.spend(len(value))
        return {"d": [[encode(k, budget, depth + 1), encode(v, budget, depth + 1)] for k, v in value.items()]}
    if isinstance(value, _dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, _dt.time):
        return {"tm": value.isoformat()}
    if isinstance(value, _dt.timedelta):
        return {"td": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal) and value.is_finite():   # from `import decimal`: kept as a number
        return float(value)
    raise Unstorable(type(value).__name__)


_HASHABLE = (type(None), bool, int, float, str, tuple, frozenset, _dt.date, _dt.datetime, _dt.time, _dt.timedelta)


def decode(item, depth=0):
    if depth > MAX_DEPTH + 1:
        raise SandboxError("malformed reply from the sandbox")
    if item is None or isinstance(item, (bool, int, float, str)):
        return item
    if isinstance(item, dict) and len(item) == 1:
        (tag, body), = item.items()
        if tag in ("l", "t", "s") and isinstance(body, list):
            values = [decode(v, depth + 1) for v in body]
            if tag == "s":
                if not all(isinstance(v, _HASHABLE) for v in values):
                    raise SandboxError("malformed reply from the sandbox")
                return set(values)
            return tuple(values) if tag == "t" else values
        if tag == "d" and isinstance(body, list) and all(isinstance(p, list) and len(p) == 2 for p in body):
            result = {}
            for key, value in body:
                key = decode(key, depth + 1)
                if not isinstance(key, _HASHABLE):
                    raise SandboxError("malformed reply from the sandbox")
                result[key] = decode(value, depth + 1)
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


def dumps(value):
    return json.dumps(value, separators=(",", ":"), allow_nan=True).encode()
