"""Who may do what. Every entry point (API, pages, CLI) asks these functions, so none can skip them."""
from dataclasses import dataclass

from .errors import Forbidden

EVERYONE = "*"


@dataclass(frozen=True)
class Actor:
    """The person acting: a signed-in user, or the CLI acting as one."""
    username: str
    roles: frozenset = frozenset()
    admin: bool = False

    @property
    def keys(self):
        """The candidate keys that let this actor do a task (see `candidate_keys`)."""
        return {EVERYONE, f"user:{self.username.lower()}"} | {f"role:{r}" for r in self.roles}

    def has_role(self, role):
        return self.admin or role in self.roles


# the names Baton itself acts under (timer starts, the console): no account may take one, or it would
# see and act as what these did (history and "started by" name them)
INTERNAL_NAMES = frozenset({"scheduler", "cli", "worker", "system"})


def internal_actor(name):
    """The admin Actor of one of Baton's own parts."""
    if name not in INTERNAL_NAMES:
        raise ValueError(f"{name!r} is not one of Baton's internal names")
    return Actor(name, admin=True)


def candidate_keys(roles, assignee=None, candidate_users=()):
    """Who may do a task: its assignee alone, else its roles and candidate users, else everyone."""
    if assignee:
        return {f"user:{assignee.lower()}"}
    keys = {f"role:{r}" for r in roles} | {f"user:{u}" for u in candidate_users}
    return keys or {EVERYONE}


def may_do(actor, keys):
    return actor.admin or bool(actor.keys & set(keys))


def require_admin(actor, what):
    """Refuse anyone but an admin, saying what only admins may do (`what`: "cancel instances")."""
    if not actor.admin:
        raise Forbidden(f"only admins may {what}")
