"""HTTP Basic without a password hash on every call: verified credentials are remembered briefly.

Checking a password with scrypt costs about 90 ms of CPU, on purpose. An API client using Basic
sends its password with every call, so a handful of such clients kept a server busy hashing. Once a
password has been checked, this process remembers, for `BATON_BASIC_AUTH_CACHE_SECONDS`, that this
username and password were right, under an HMAC with a key that lives only in this process's memory
(the password itself is never kept, nor a digest anyone else could compute). A later call with the
same credentials costs one indexed read, as a bearer token does. That read brings the user's current
password hash: when it is not the hash the credentials were checked against (the password was
changed or reset, in any process) or the user is inactive, the record is dropped and the password is
checked in full again. The caller's throttle stays in front of all this (`web/auth.py`).
"""
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict

from sqlalchemy import bindparam, select

from . import driver, users
from .access import Actor
from .models import User, UserRole

SECONDS = float(os.environ.get("BATON_BASIC_AUTH_CACHE_SECONDS", 60))
MAX_RECORDS = 10_000
_KEY = secrets.token_bytes(32)
_verified = OrderedDict()       # keyed digest of (username, password) → (password hash checked, expires)
_lock = threading.Lock()

_HOLDER = (select(User.username, User.is_admin, User.password_hash, UserRole.role)
           .outerjoin(UserRole, UserRole.user_id == User.id)
           .where(User.username == bindparam("username"), User.active.is_(True)))


def _digest(username, password):
    return hmac.new(_KEY, f"{username}\x00{password}".encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def authenticate(session, username, password):
    """The Actor these Basic credentials stand for, or None; scrypt runs only when nothing recent vouches."""
    digest = _digest(username, password)
    with _lock:
        record = _verified.get(digest)
    if record is not None and record[1] > time.monotonic():
        rows = driver.read(session.connection(), _HOLDER, {"username": username})
        if rows and hmac.compare_digest(rows[0].password_hash, record[0]):
            return Actor(rows[0].username, frozenset(row.role for row in rows if row.role), rows[0].is_admin)
    with _lock:
        _verified.pop(digest, None)
    user = users.authenticate(session, username, password)
    if user is None:
        return None
    with _lock:
        _verified[digest] = (user.password_hash, time.monotonic() + SECONDS)
        while len(_verified) > MAX_RECORDS:
            _verified.popitem(last=False)
    return users.actor(user)


def forget():
    """Drop every record (tests; an operator may call it after a breach)."""
    with _lock:
        _verified.clear()
