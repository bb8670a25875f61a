"""Who a step is for when the diagram decides it from data, as the tool that drew it would.

- Camunda: `camunda:assignee="${approver}"` and `camunda:candidateUsers="${reviewers}"` are read from
  the instance data when the step opens (the deploy compiles them like other diagram code); a start
  event's `camunda:initiator="starter"` puts the username of whoever started the instance into that
  variable, so `${starter}` hands a step back to them.
- SpiffArena (its dialect only): a lane named in the data's `lane_owners` (`{"Finance": ["alice"]}`) is
  for those people instead of the role of that name, and a step outside any lane is for the person
  who started the instance.
An expression that cannot be read leaves the step to admins (and says why in the history), who can
hand it to someone with the manager's *Reassign*.
"""
from modeller.elements import is_expression
from modeller.normalise import juel_to_python

from . import sandbox
from .access import INTERNAL_NAMES


def people(step, data, starter, dialect):
    """(roles, assignee, candidate users, problems) of a step opening with `data`."""
    roles, assignee, users, problems = list(step["roles"]), step["assignee"], [], []
    if is_expression(assignee):
        found, problem = _names(assignee, data)
        assignee = found[0] if len(found) == 1 else assignee
        problems += [problem] if problem else \
            ([] if len(found) == 1 else [f"{step['assignee']} gave {len(found)} people, not one"])
    for entry in step["candidate_users"]:
        found, problem = _names(entry, data) if is_expression(entry) else ([entry], None)
        users += found or [entry]   # no one read from it: the expression itself, which no account matches
        problems += [problem] if problem else []
    if dialect == "spiff":
        owners = data.get("lane_owners")
        lane = (step.get("lane") or "").strip().lower()
        named = {str(k).strip().lower(): v for k, v in owners.items()} if isinstance(owners, dict) else {}
        if lane and lane in named:
            roles, users = [], [str(u).strip().lower() for u in _as_list(named[lane]) if str(u).strip()]
        elif not lane and not roles and not assignee and not users and starter \
                and starter not in INTERNAL_NAMES:
            assignee = starter
    return roles, assignee, users, problems


def _names(expression, data):
    """The usernames an expression gives (one name, or a list or comma-separated text of them)."""
    try:
        value = sandbox.run(juel_to_python(expression), dict(data))
    except Exception as error:  # noqa: BLE001 - diagram code fails in any way; the step stays with admins
        return [], f"{expression}: {error}"
    return [str(v).strip().lower() for v in _as_list(value) if v is not None and str(v).strip()], None


def _as_list(value):
    if isinstance(value, str):
        return value.split(",")
    return list(value) if isinstance(value, (list, tuple, set)) else [value]
