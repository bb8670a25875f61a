"""How long a piece of text may be where the database keeps it: the length its column declares.

PostgreSQL refuses text longer than a `VARCHAR(n)` (SQLite ignores the length), so text that enters
from outside (a diagram, an upload's file name, the API) is checked against its column where it
enters, with a message naming the field; text Baton derives itself (a notice's subject built from a
task name and a title) is shortened to fit instead. Either way the limit is read from the column, so
a migration that widens one widens the check too.
"""


def limit(column):
    """The declared length of a mapped String column (e.g. `HumanTask.name`)."""
    return column.type.length


def too_long(value, column):
    return isinstance(value, str) and len(value) > limit(column)


def fit(text, column):
    """`text` shortened to fit `column`, ending with "…" when something was cut."""
    size = limit(column)
    return text if text is None or len(text) <= size else text[:size - 1] + "…"
