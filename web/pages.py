"""Helpers the page blueprints share: the acting user, Markdown, the next-step message."""
import markdown as _markdown
import nh3
from flask import flash
from markupsafe import Markup

from engine import instances

from .extensions import db

ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "a", "code", "pre", "blockquote", "h3", "h4", "h5",
                "table", "thead", "tbody", "tr", "th", "td", "hr"}


def render_markdown(text):
    """Documentation from a diagram, as sanitised HTML (diagrams come from other people)."""
    html = _markdown.markdown(text or "", extensions=["tables"])
    return Markup(nh3.clean(html, tags=ALLOWED_TAGS, link_rel="noopener noreferrer nofollow"))  # noqa: S704 - sanitised


def handoff_message(task_name, instance):
    """`Completed “Write the brief”. Next: Design slides → Designer` — who has the work now."""
    view = instances.describe(db.session, instance)
    if view["status"] == "completed":
        nxt = "The process is complete."
    elif view["status"] == "failed":
        nxt = f"The process stopped: {(view['incident'] or {}).get('message')}"
    elif view["tasks"]:
        nxt = "Next: " + "; ".join(f"{t['name']} → {t['assignee'] or ', '.join(t['roles']) or 'everyone'}"
                                   for t in view["tasks"])
    else:
        nxt = "The process is waiting for an event."
    flash(f"Completed “{task_name}”. {nxt}", "success")
