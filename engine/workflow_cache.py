"""Workflows kept in memory after a change, so the next change of the same instance in this process
skips deserialising what it has just serialised (in a keep-alive session one person often completes
step after step of the same instance).

A kept workflow is found by the digest of the state it was stored as: it is reused only while the
instance's row still holds exactly those bytes, whatever else happened meanwhile (another process
changed the instance, a transaction rolled back, the database was replaced). Taking removes it, so two
threads never change one workflow object; a change that fails simply does not put it back.
With the workflow goes the list of the instance's open task rows that change left: those rows change
only together with the instance's row, so while the row holds those bytes, that list is still true.
"""
import hashlib
import threading
from collections import OrderedDict

SIZE = 128   # workflows per process; a long instance's tree costs about a megabyte

_kept = OrderedDict()
_lock = threading.Lock()


def _digest(state):
    return hashlib.blake2b(state, digest_size=16).digest()


def take(state):
    """(workflow, open task rows) last stored as `state` by this process, or None; no longer kept."""
    with _lock:
        return _kept.pop(_digest(state), None)


def keep(state, workflow, open_tasks):
    """Remember `workflow` and its open task rows as stored as `state` (call once that is committed)."""
    key = _digest(state)
    with _lock:
        _kept[key] = (workflow, open_tasks)
        _kept.move_to_end(key)
        while len(_kept) > SIZE:
            _kept.popitem(last=False)


def clear():
    with _lock:
        _kept.clear()
