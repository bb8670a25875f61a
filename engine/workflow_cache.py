"""Workflows kept in memory after a change, so the next change of the same instance in this process
skips deserialising what it has just serialised (in a keep-alive session one person often completes
step after step of the same instance).

A kept workflow is found by the digest of the state it was stored as: it is reused only while the
instance's row still holds exactly those bytes, whatever else happened meanwhile (another process
changed the instance, a transaction rolled back, the database was replaced). Taking removes it, so two
threads never change one workflow object; a change that fails simply does not put it back.
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
    """The workflow last stored as `state` by this process, or None; it is no longer kept."""
    with _lock:
        return _kept.pop(_digest(state), None)


def keep(state, workflow):
    """Remember `workflow` as the one stored as `state` (call once the state is committed)."""
    key = _digest(state)
    with _lock:
        _kept[key] = workflow
        _kept.move_to_end(key)
        while len(_kept) > SIZE:
            _kept.popitem(last=False)


def clear():
    with _lock:
        _kept.clear()
