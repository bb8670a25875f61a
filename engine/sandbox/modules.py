"""The standard modules diagram code may import: `datetime`, `decimal`, `json`, `math`, `random`, `re`.

Scripts written for SpiffArena and Camunda's Python engines import them. Diagram code never gets the
module itself: it gets a stand-in holding the module's public functions, classes and constants and
nothing else (no submodules, so no path from `json` to `json.decoder.re` or anything beyond). What they
compute is bounded like any other diagram code: the worker's memory cap, and its time limit, which
kills a runaway regular expression with the worker, never the web process.
"""
import importlib
import types

ALLOWED_MODULES = ("datetime", "decimal", "json", "math", "random", "re")


class SafeModule:
    """A module as diagram code sees it (`<module math>`), with its public, non-module members only."""
    __slots__ = ("_name", "_members")

    def __init__(self, module):
        self._name = module.__name__
        self._members = {name: value for name, value in vars(module).items()
                         if not name.startswith("_") and not isinstance(value, types.ModuleType)}

    def __getattr__(self, name):
        try:
            return self._members[name]
        except KeyError:
            raise AttributeError(f"module {self._name!r} has no attribute {name!r} here") from None

    def __repr__(self):
        return f"<module {self._name}>"


_SAFE = {}


def safe_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002 - __import__'s signature
    """`__import__` for diagram code: one of ALLOWED_MODULES, as a SafeModule (deploy refuses the rest)."""
    if level != 0 or name not in ALLOWED_MODULES:
        raise ImportError(f"diagram code may import only {', '.join(ALLOWED_MODULES)}, not {name!r}")
    if name not in _SAFE:
        _SAFE[name] = SafeModule(importlib.import_module(name))
    return _SAFE[name]


def import_problem(names):
    """Why importing the module `names` (dotted parts) is refused, or None."""
    name = ".".join(names)
    if name in ALLOWED_MODULES:
        return None
    return f"import of {name!r} is not allowed in diagram code; it may import {', '.join(ALLOWED_MODULES)}"
