"""What templates need besides the data: the clock, ages, and values as people read them."""
import datetime as _dt
import re

from flask import send_from_directory

from engine import clock, files
from engine.data import as_text

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def age(moment):
    """'3 d', '5 h', '12 min' — how long something has waited."""
    seconds = max((clock.now() - moment).total_seconds(), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return "just now"


def readable(value):
    """Instance data as a marketing team reads it: yes/no, dates, lists with commas, a dash for nothing
    (not Python's `True`, `['writer']` or `None`)."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, _dt.datetime):
        return value.strftime("%-d %b %Y, %H:%M")
    if isinstance(value, _dt.date):
        return value.strftime("%-d %b %Y")
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v) for v in value)
    if isinstance(value, dict) and "file_id" in value:   # an attached file (engine/files.py)
        return str(value.get("name") or f"file {value['file_id']}")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {readable(v)}" for k, v in value.items())
    if isinstance(value, str) and _ISO_DATE.match(value):
        return readable(_dt.date.fromisoformat(value))
    if isinstance(value, str) and _ISO_MOMENT.match(value):
        try:
            return readable(_dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def is_files(value):
    """Whether a value is a list of attached files (`{"file_id", "name", "type", "size"}`)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and "file_id" in v for v in value)


def register(app):
    app.jinja_env.add_extension("jinja2.ext.do")   # the form macros gather a field's rules into a list
    app.jinja_env.globals["now"] = clock.now
    app.jinja_env.filters["age"] = age
    app.jinja_env.filters["readable"] = readable
    app.jinja_env.filters["as_text"] = as_text   # a value in a box to edit (engine.data)
    app.jinja_env.filters["file_size"] = files.size_text
    app.jinja_env.tests["files"] = is_files
    app.jinja_env.globals.update(file_images=files.IMAGES, file_kinds=files.KINDS)
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: send_from_directory(app.static_folder, "favicon.svg", mimetype="image/svg+xml"))
