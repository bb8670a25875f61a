"""The names diagram code sees: a vetted part of the builtins, Baton's helpers and the guards.

`scope()` is the global namespace every evaluation starts from, in the worker. The helpers that
read the time (`now`, `today`) and the working days (`working_days`) read the moment and the
calendar the server sent with the request, so a worker evaluates at the runtime's "now"
(`engine.clock`), not at its own.
"""
import datetime as _dt
import math
import threading

from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
)
from RestrictedPython.PrintCollector import PrintCollector

from .. import workdays
from .guards import OPERATOR_GUARDS, Helper, bounded, bounded_range, getattr_, inplace, power
from .limits import MAX_PRINTED
from .modules import SafeModule, safe_import

# exception classes that are not for diagram code (they stop interpreters, not computations)
# and `id`/`hash`, which give away memory addresses
_HIDDEN_BUILTINS = {"SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException", "pow", "id", "hash"}

moment = threading.local()    # the runtime's "now" for the evaluation under way (see engine.clock)
_calendar = {"value": workdays.EVERY_DAY}   # the working days `working_days(n)` counts (see engine.calendars)


def use_calendar(calendar):
    """The working days diagram code counts with from now on, in this process's requests to the sandbox."""
    _calendar["value"] = calendar


def current_calendar():
    return _calendar["value"]


def _parse_date(value):
    """ISO date or date-time text to a date/datetime; dates pass through."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value
    text = str(value)
    return _dt.datetime.fromisoformat(text) if "T" in text or " " in text else _dt.date.fromisoformat(text)


def _now_utc():
    value = getattr(moment, "value", None)
    if value is None:
        from .. import clock
        value = clock.now()
    return value.replace(tzinfo=_dt.UTC)


class _Printed(PrintCollector):
    """Where `print()` in diagram code writes: kept in the worker's memory for the evaluation only (a
    script may read it as `printed`), at most MAX_PRINTED characters, the rest dropped. It never reaches
    the worker's stdout, which is the protocol's channel."""

    def __init__(self, _getattr_=None):
        super().__init__(_getattr_)
        self.room = MAX_PRINTED

    def write(self, text):
        if self.room > 0:
            text = str(text)[:self.room]
            self.room -= len(text)
            self.txt.append(text)

    def flush(self):   # print(..., flush=True)
        pass


def scope():
    """A fresh global namespace for one evaluation."""
    allowed = {name: safe_builtins[name] for name in safe_builtins
               if not name.startswith("_") and name not in _HIDDEN_BUILTINS}
    allowed.update({
        "len": len, "min": min, "max": max, "abs": abs, "round": round,
        "any": any, "all": all, "enumerate": enumerate, "zip": zip,
        "list": list, "dict": dict, "set": set, "map": map, "filter": filter,
        "reversed": reversed, "timedelta": _dt.timedelta,
        "floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt,
    })
    allowed.update({name: Helper(name, function) for name, function in {
        "range": bounded_range, "sum": bounded(sum), "sorted": bounded(sorted), "pow": power,
        "days": lambda n: _dt.timedelta(days=n), "hours": lambda n: _dt.timedelta(hours=n),
        "minutes": lambda n: _dt.timedelta(minutes=n), "weeks": lambda n: _dt.timedelta(weeks=n),
        "date": _parse_date, "today": lambda: _now_utc().date(), "now": _now_utc,
        "working_days": lambda n: workdays.WorkingDays(n, _calendar["value"]),
    }.items()})
    allowed["__import__"] = safe_import   # only ALLOWED_MODULES, as SafeModules (see modules.py)
    names = {
        "__builtins__": allowed,
        "_getattr_": getattr_,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": inplace,
        "_print_": _Printed,   # print() in a diagram's script: collected into `printed`, shown nowhere
        "_print": _Printed(getattr_),   # the same for an expression (a script binds its own `_print`)
        **OPERATOR_GUARDS,
    }
    allowed["locals"] = Helper("locals", lambda: _variables(names))
    return names


def _variables(names):
    """`locals()` in a script: a copy of its variables (the data and what it assigned), as SpiffWorkflow's
    own script engine gives; helpers, guards and imported modules are left out."""
    return {key: value for key, value in names.items()
            if not key.startswith("_") and not callable(value) and not isinstance(value, SafeModule)}


HELPER_NAMES = frozenset(scope()["__builtins__"])
