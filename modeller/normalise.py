"""Translating what other tools write into what SpiffWorkflow evaluates (Python expressions).

Camunda Modeler writes JUEL conditions (``${amount > 1000}``) and bare ISO timers (``PT1H``);
both parse and then fail at run time. Baton rewrites them in the copy of the tree handed to the
parser; the stored bytes stay exactly as uploaded.
"""
import copy
import re

from . import links
from .reader import BPMN_NS

_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.DOTALL)
_ISO_TIMER = re.compile(r"^\s*(R\d*/.*|P[0-9YMWDTHS.,]+|\d{4}-\d{2}-\d{2}(T[0-9:.+\-Z]*)?)\s*$")
_JUEL_WORDS = [(r"&&", " and "), (r"\|\|", " or "), (r"!(?!=)", " not "), (r"\btrue\b", "True"),
               (r"\bfalse\b", "False"), (r"\bnull\b", "None"), (r"\beq\b", "=="), (r"\bne\b", "!="),
               (r"\bempty\s+(\w+)", r"not \1")]
_EXPRESSION_TAGS = ("conditionExpression", "completionCondition", "loopCardinality")
_TIMER_TAGS = ("timeDuration", "timeDate", "timeCycle")


def juel_to_python(text):
    """`${a > 1 && !done}` → `a > 1 and not done`; other text is returned unchanged."""
    match = _JUEL.match(text or "")
    if not match:
        return text
    expression = match.group(1)
    for pattern, replacement in _JUEL_WORDS:
        expression = re.sub(pattern, replacement, expression)
    return " ".join(expression.split())


_CRON_FIELD = r"[0-9A-Za-z*?/,#\-]+"
_CRON = re.compile(rf"^\s*{_CRON_FIELD}(\s+{_CRON_FIELD}){{5,6}}\s*$")


def is_cron(text):
    """Whether a timer cycle is Camunda's cron (six or seven fields, seconds first: `0 0 9 ? * MON-FRI`)
    rather than ISO 8601 (`R/P7D`); engine/cron.py runs it."""
    return isinstance(text, str) and not text.strip().startswith(("R", "P")) and bool(_CRON.match(text))


def quote_timer(text):
    """A bare ISO 8601 duration, date or cycle, or a cron cycle, becomes a Python string literal."""
    if text and (_ISO_TIMER.match(text) or is_cron(text)):
        return repr(text.strip())
    return text


def for_execution(root):
    """A copy of the document tree with expressions and timers in the engine's language, and link
    events joined (see links.py)."""
    root = links.join(copy.deepcopy(root))
    for tag in _EXPRESSION_TAGS:
        for element in root.iter(f"{{{BPMN_NS}}}{tag}"):
            element.text = juel_to_python(element.text)
    for tag in _TIMER_TAGS:
        for element in root.iter(f"{{{BPMN_NS}}}{tag}"):
            element.text = quote_timer(juel_to_python(element.text))
    return root
