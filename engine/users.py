"""People, their roles, passwords (hashed with scrypt) and API tokens (stored as SHA-256)."""
import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from . import clock, driver, lengths
from .access import INTERNAL_NAMES, Actor
from .errors import Conflict, Invalid, NotFound
from .models import MAX_ID, ApiToken, SignIn, User, UserRole

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,80}$")
_EMAIL = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,189}$")
MIN_PASSWORD = 8
_DUMMY_HASH = generate_password_hash("timing-equaliser")


def normalise_roles(roles):
    return sorted({r.strip().lower() for r in roles if r and r.strip()})


def actor(user):
    return Actor(user.username, frozenset(user.role_names), user.is_admin)


def find(session, username):
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def find_active(session, username):
    """The active user called `username`, or None."""
    return session.scalar(select(User).where(User.username == username, User.active.is_(True)))


def create(session, username, password, roles=(), admin=False, email=None):
    errors = []
    if not isinstance(username, str) or not _USERNAME.match(username):
        errors.append({"field": "username", "message": "use 1-80 letters, digits, . _ @ or -"})
    elif username.lower() in INTERNAL_NAMES:
        errors.append({"field": "username",
                       "message": f"{username!r} is a name Baton itself acts under; choose another"})
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        errors.append({"field": "password", "message": f"must be at least {MIN_PASSWORD} characters"})
    errors += _role_errors(roles)
    if not isinstance(admin, bool):
        errors.append({"field": "admin", "message": "must be true or false"})
    errors += _email_errors(email)
    if errors:
        raise Invalid("invalid user", errors)
    # task identity compares names in lower case: `ANA` next to `ana` would do ana's tasks
    existing = session.scalar(select(User.username).where(func.lower(User.username) == username.lower()))
    if existing is not None:
        raise Conflict(f"user {existing!r} already exists", [{"field": "username", "message": "already exists"}])
    user = User(username=username, password_hash=generate_password_hash(password), is_admin=admin, email=email or None,
                roles=[UserRole(role=r) for r in normalise_roles(roles)])
    session.add(user)
    session.commit()
    return user


def _role_errors(roles):
    if not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) for r in roles):
        return [{"field": "roles", "message": "must be a list of role names"}]
    if any(lengths.too_long(r.strip(), UserRole.role) for r in roles):
        return [{"field": "roles",
                 "message": f"a role name may have at most {lengths.limit(UserRole.role)} characters"}]
    return []


def _email_errors(email):
    if email not in (None, "") and not (isinstance(email, str) and _EMAIL.match(email.strip())):
        return [{"field": "email", "message": "must be an email address such as ana@example.com"}]
    return []


def update(session, username, roles=None, admin=None, active=None, password=None, email=None):
    errors = (_role_errors(roles) if roles is not None else []) + _email_errors(email)
    if errors:
        raise Invalid("invalid user", errors)
    user = find(session, username)
    if email is not None:
        user.email = email.strip() or None
    if roles is not None:
        user.roles = [UserRole(role=r) for r in normalise_roles(roles)]
    if admin is not None:
        user.is_admin = bool(admin)
    if active is not None:
        user.active = bool(active)
    if password is not None:
        if len(password) < MIN_PASSWORD:
            raise Invalid("password too short", [{"field": "password",
                                                  "message": f"must be at least {MIN_PASSWORD} characters"}])
        user.password_hash = generate_password_hash(password)
        _end_sign_ins(session, user)
    if active is False:
        _end_sign_ins(session, user)
    session.commit()
    return user


def _end_sign_ins(session, user):
    """A new or reset password (or a deactivation) ends what the old one gave: every session, every token."""
    session.execute(delete(SignIn).where(SignIn.user_id == user.id))
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))


def _digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def sign_in(session, user, lifetime_seconds):
    """A new server-side session for `user`; returns the id its cookie carries (only its digest is kept).
    The user's sessions older than `lifetime_seconds` are deleted on the way."""
    now = clock.now()
    session.execute(delete(SignIn).where(SignIn.user_id == user.id,
                                         SignIn.created_at < now - timedelta(seconds=lifetime_seconds)))
    secret = secrets.token_urlsafe(32)
    session.add(SignIn(id=_digest(secret), user_id=user.id, created_at=now))
    session.commit()
    return secret


_SIGNED_IN = (select(User).options(joinedload(User.roles)).join(SignIn, SignIn.user_id == User.id)
              .where(SignIn.id == bindparam("digest"), User.active.is_(True)))


def by_sign_in(session, secret):
    """The active user of the session whose cookie carries `secret`, with their roles; None once it ended."""
    return session.execute(_SIGNED_IN, {"digest": _digest(secret)}).unique().scalar_one_or_none()


def sign_out(session, secret):
    """End one session on the server: its cookie, wherever it was copied to, signs nobody in again."""
    session.execute(delete(SignIn).where(SignIn.id == _digest(secret)))
    session.commit()


def tokens_of(session, user):
    """A person's API tokens (their secrets are not kept: id and age tell them apart), newest first."""
    return session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                           .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).all()


def revoke_token(session, user, token_id):
    """Delete one of `user`'s tokens; NotFound when they hold no such token."""
    gone = 0 < token_id <= MAX_ID and \
        session.execute(delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)).rowcount
    if not gone:
        session.rollback()
        raise NotFound(f"no token {token_id}")
    session.commit()


def authenticate(session, username, password):
    """The active user with this password, or None (same work either way, against timing probes)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    return user if check_password_hash(user.password_hash, password or "") else None


def issue_token(session, user):
    """A new API token; only its hash is stored, so it is shown once."""
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hashlib.sha256(token.encode()).hexdigest()))
    session.commit()
    return token


_TOKEN_HOLDER = (select(User.username, User.is_admin, UserRole.role).join(ApiToken, ApiToken.user_id == User.id)
                 .outerjoin(UserRole, UserRole.user_id == User.id)
                 .where(ApiToken.token_hash == bindparam("digest"), User.active.is_(True)))


def actor_for_token(session, token):
    """The Actor an API token stands for (one indexed read: it is checked on every call), or None."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    rows = driver.read(session.connection(), _TOKEN_HOLDER, {"digest": digest})
    if not rows:
        return None
    return Actor(rows[0].username, frozenset(row.role for row in rows if row.role), rows[0].is_admin)


def all_users(session):
    return session.scalars(select(User).order_by(User.username)).all()
