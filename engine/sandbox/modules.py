"""The standard modules diagram code may import: `datetime`, `decimal`, `json`, `math`, `random`, `re`.

Scripts written for SpiffArena and Camunda's Python engines import them. Diagram code never gets the
module itself: it gets a stand-in holding the module's public functions, classes and constants and
nothing else (no submodules, so no path from `json` to `json.decoder.re` or anything beyond). What they
compute is bounded like any other diagram code: the worker's memory cap, and its time limit, which
kills a runaway regular expression with the worker, never the web process.

A worker serves many evaluations, so nothing one script does to a module's state reaches the next:
`begin()` starts each evaluation with new stand-ins, whose `random` functions draw from a generator of
their own (`random.seed(1)` seeds this script's draws only) and whose `decimal` contexts
(`DefaultContext`, ...) are copies, and with a default decimal context (`decimal.setcontext` lasts one
evaluation).
"""
import decimal
import importlib
import random
import types

ALLOWED_MODULES = ("datetime", "decimal", "json", "math", "random", "re")


class SafeModule:
    """A module as diagram code sees it (`<module math>`), with its public, non-module members only."""
    __slots__ = ("_name", "_members")

    def __init__(self, module):
        self._name = module.__name__
        self._members = {name: _own(value) for name, value in vars(module).items()
                         if not name.startswith("_") and not isinstance(value, types.ModuleType)}

    def __getattr__(self, name):
        try:
            return self._members[name]
        except KeyError:
            raise AttributeError(f"module {self._name!r} has no attribute {name!r} here") from None

    def __repr__(self):
        return f"<module {self._name}>"


def _own(value):
    """`value` as one evaluation's stand-in holds it: a decimal context is a copy of its own."""
    return value.copy() if isinstance(value, decimal.Context) else value


_SAFE = {}   # the stand-ins of the evaluation under way (see `begin`)


def begin():
    """Start an evaluation: new stand-ins and the default decimal context (worker side)."""
    _SAFE.clear()
    decimal.setcontext(decimal.Context())   # a copy of decimal.DefaultContext, which scripts see only as a copy


def _fresh_random(stand_in):
    """`random`'s functions bound to a generator of this evaluation's own, seeded from the system."""
    generator = random.Random()  # noqa: S311 - what diagram code asked for: `random`, not secrets
    members = stand_in._members
    for name, value in members.items():
        if getattr(value, "__self__", None) is random._inst:  # noqa: SLF001 - seed, random, randint, ...
            members[name] = getattr(generator, name)
    return stand_in


def safe_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002 - __import__'s signature
    """`__import__` for diagram code: one of ALLOWED_MODULES, as a SafeModule (deploy refuses the rest)."""
    if level != 0 or name not in ALLOWED_MODULES:
        raise ImportError(f"diagram code may import only {', '.join(ALLOWED_MODULES)}, not {name!r}")
    if name not in _SAFE:
        stand_in = SafeModule(importlib.import_module(name))
        _SAFE[name] = _fresh_random(stand_in) if name == "random" else stand_in
    return _SAFE[name]


def import_problem(names):
    """Why importing the module `names` (dotted parts) is refused, or None."""
    name = ".".join(names)
    if name in ALLOWED_MODULES:
        return None
    return f"import of {name!r} is not allowed in diagram code; it may import {', '.join(ALLOWED_MODULES)}"
