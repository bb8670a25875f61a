"""Slowing password guessing: after several failures a username is blocked for a while.

Kept in process memory: with several web processes each counts on its own, which still caps
guessing at a few attempts per minute per process.
"""
import os
import threading
import time

MAX_FAILURES = int(os.environ.get("BATON_LOGIN_MAX_FAILURES", 5))
WINDOW_SECONDS = int(os.environ.get("BATON_LOGIN_WINDOW_SECONDS", 300))
_failures = {}
_lock = threading.Lock()


def _recent(username, now):
    return [t for t in _failures.get(username.lower(), []) if now - t < WINDOW_SECONDS]


def blocked(username):
    with _lock:
        return len(_recent(username, time.monotonic())) >= MAX_FAILURES


def record(username, success):
    now = time.monotonic()
    with _lock:
        if success:
            _failures.pop(username.lower(), None)
        else:
            _failures[username.lower()] = _recent(username, now) + [now]


def reset():
    with _lock:
        _failures.clear()
