"""People, their roles, passwords (hashed with scrypt) and API tokens (stored as SHA-256)."""
import hashlib
import re
import secrets

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from . import driver
from .access import Actor
from .errors import Conflict, Invalid, NotFound
from .models import MAX_ID, ApiToken, User, UserRole

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,80}$")
_EMAIL = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,189}$")
MIN_PASSWORD = 8
_DUMMY_HASH = generate_password_hash("timing-equaliser")


def normalise_roles(roles):
    return sorted({r.strip().lower() for r in roles if r and r.strip()})


def actor(user):
    return Actor(user.username, frozenset(user.role_names), user.is_admin)


_WITH_ROLES = select(User).options(joinedload(User.roles)).where(User.id == bindparam("user_id"))


def by_id(session, user_id):
    """The user with their roles, in one read (every page asks for the signed-in user), or None."""
    if not 0 < user_id <= MAX_ID:
        return None
    return session.execute(_WITH_ROLES, {"user_id": user_id}).unique().scalar_one_or_none()


def find(session, username):
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def create(session, username, password, roles=(), admin=False, email=None):
    errors = []
    if not isinstance(username, str) or not _USERNAME.match(username):
        errors.append({"field": "username", "message": "use 1-80 letters, digits, . _ @ or -"})
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        errors.append({"field": "password", "message": f"must be at least {MIN_PASSWORD} characters"})
    if not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) for r in roles):
        errors.append({"field": "roles", "message": "must be a list of role names"})
    if not isinstance(admin, bool):
        errors.append({"field": "admin", "message": "must be true or false"})
    if email not in (None, "") and not (isinstance(email, str) and _EMAIL.match(email)):
        errors.append({"field": "email", "message": "must be an email address such as ana@example.com"})
    if errors:
        raise Invalid("invalid user", errors)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", [{"field": "username", "message": "already exists"}])
    user = User(username=username, password_hash=generate_password_hash(password), is_admin=admin, email=email or None,
                roles=[UserRole(role=r) for r in normalise_roles(roles)])
    session.add(user)
    session.commit()
    return user


def update(session, username, roles=None, admin=None, active=None, password=None, email=None):
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
    session.commit()
    return user


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
