"""What templates need besides the data: the clock and ages."""
from flask import send_from_directory

from engine import clock


def age(moment):
    """'3 d', '5 h', '12 min' — how long something has waited."""
    seconds = max((clock.now() - moment).total_seconds(), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return "just now"


def register(app):
    app.jinja_env.add_extension("jinja2.ext.do")   # the form macros gather a field's rules into a list
    app.jinja_env.globals["now"] = clock.now
    app.jinja_env.filters["age"] = age
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: send_from_directory(app.static_folder, "favicon.svg", mimetype="image/svg+xml"))
