"""Checking and typing submitted form data against a step's `camunda:formData` fields.

Every field error is collected, so the person fixes all of them at once; nothing is completed
while any remains. A field may be required only on one answer of another (`required_when`, e.g. the
notes when `approved` is false); the form says so before anyone types (`with_defaults`), in the same
words as the error.
"""
import datetime as _dt

from modeller.elements import required_when

from . import files
from .data import MAX_INT, boolean, text_problem

MAX_TEXT = 10_000


def _long(value):
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float) and not value.is_integer():
        raise ValueError
    number = int(str(value).strip()) if isinstance(value, str) else int(value)
    if abs(number) > MAX_INT:   # `1e300` is a whole number too, of 997 bits
        raise ValueError
    return number


def _double(value):
    """A number with decimals (a budget of 1499.99): finite, within what JSON and the database keep."""
    if isinstance(value, bool):
        raise ValueError
    number = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
    if number != number or number in (float("inf"), float("-inf")) or abs(number) > 1e15:
        raise ValueError
    return number


def _date(value):
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    return _dt.date.fromisoformat(str(value).strip()[:10])


class _Refused(ValueError):
    """A value of the right type that still cannot be kept; its message says why."""


def _string(value):
    if isinstance(value, (dict, list)):
        raise ValueError
    problem = text_problem(value) if isinstance(value, str) else None
    if problem:
        raise _Refused(f"must be plain text: it {problem}")
    return str(value)


_CONVERTERS = {"string": (_string, "text"), "textarea": (_string, "text"), "long": (_long, "a whole number"),
               "double": (_double, "a number"),
               "boolean": (boolean, "true or false"), "date": (_date, "a date (YYYY-MM-DD)")}


def _bounds_error(field, value):
    if field["type"] in ("string", "textarea"):   # textarea: Camunda Modeler's multi-line text
        if field.get("minlength") and len(value) < int(field["minlength"]):
            return f"must be at least {field['minlength']} characters"
        if len(value) > int(field.get("maxlength") or MAX_TEXT):
            return f"must be at most {field.get('maxlength') or MAX_TEXT} characters"
        return None
    if field["type"] in ("long", "double", "date"):
        convert = _CONVERTERS[field["type"]][0]
        if field.get("min") not in (None, "") and value < convert(field["min"]):
            return f"must be at least {field['min']}"
        if field.get("max") not in (None, "") and value > convert(field["max"]):
            return f"must be at most {field['max']}"
    return None


def _typed(field, raw):
    if field["type"] == "file":   # Uploads and references to kept files, checked by their content
        return files.checked(field, raw)
    if field["type"] == "enum":
        allowed = [v["id"] for v in field.get("values", [])]
        if str(raw) not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return str(raw)
    convert, expected = _CONVERTERS[field["type"]]
    try:
        return convert(raw)
    except _Refused:
        raise
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"must be {expected}") from None


def _is_empty(raw):
    return raw is None or raw == [] or (isinstance(raw, str) and raw.strip() == "")


def validate(fields, submitted, current=None):
    """Return (typed values, errors); errors are [{"field", "message"}] for every bad field.

    Read-only fields keep their current value whatever is submitted. A step without form fields
    accepts no data at all, so nothing unexpected reaches the process.
    """
    current = current or {}
    if not isinstance(submitted, dict):
        return {}, [{"field": None, "message": "data must be an object of field values"}]
    known = {f["id"] for f in fields}
    errors = [{"field": key, "message": "is not a field of this form"} for key in submitted if key not in known]
    values, conditional = {}, []
    for field in fields:
        if field.get("readonly"):
            continue
        raw = submitted.get(field["id"])
        if raw is None and field["type"] == "boolean":
            raw = False  # an unticked checkbox sends nothing
        if _is_empty(raw) and field["type"] != "boolean":
            if field["type"] == "file" and current.get(field["id"]):
                continue   # no new files: the ones attached before stay (a revision keeps the draft)
            if field.get("required"):
                errors.append({"field": field["id"], "message": "is required"})
            elif field.get("required_when"):
                conditional.append(field)
            continue
        try:
            value = _typed(field, raw)
            problem = _bounds_error(field, value)
        except ValueError as error:
            problem = str(error)
        if problem:
            errors.append({"field": field["id"], "message": problem})
        else:
            values[field["id"]] = value
    errors += [{"field": f["id"], "message": f"is required when {_condition_text(fields, f)}"}
               for f in conditional if _applies(required_when(f["required_when"]), {**current, **values})]
    return values, errors


def _applies(condition, data):
    actual, wanted = data.get(condition["field"]), condition["value"]
    same = actual == wanted if isinstance(actual, bool) or isinstance(wanted, bool) else str(actual) == str(wanted)
    return same != condition["negated"]


def _condition_text(fields, field):
    """`Approved is no`: a field's condition in the words of its form."""
    condition = required_when(field["required_when"])
    other = next((f for f in fields if f["id"] == condition["field"]), {})
    value = condition["value"]
    said = ("yes" if value else "no") if isinstance(value, bool) else \
        next((v["name"] for v in other.get("values", []) if v["id"] == str(value)), str(value))
    return f"{other.get('label') or condition['field']} is {'not ' if condition['negated'] else ''}{said}"


def with_defaults(fields, data):
    """The form as shown to a person: each field with its current (or default) value."""
    return [{**f, "value": data.get(f["id"], f.get("default")),
             **({"required_when_text": _condition_text(fields, f)} if f.get("required_when") else {}),
             **({"rule_text": files.rule_text(f), "multiple": files.field_limits(f)[1] > 1}
                if f["type"] == "file" else {})}
            for f in fields]
