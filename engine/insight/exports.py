"""CSV that opens straight in Excel and Google Sheets: UTF-8 with a byte-order mark, RFC 4180 (comma,
double quotes, CRLF), dates as ISO 8601, nothing for a missing value."""
import csv
import io
from datetime import date, datetime


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def to_csv(header, rows):
    """`header` [(column title, how to read it off a row)] and `rows` → the file's bytes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for title, _ in header])
    for row in rows:
        writer.writerow([_cell(read(row)) for _, read in header])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _current(row):
    return "; ".join(f"{c['name']} ({c['owner']})" for c in row["current"])


INSTANCES = [("id", lambda r: r["id"]), ("process", lambda r: r["process_key"]), ("version", lambda r: r["version"]),
             ("label", lambda r: r["label"]), ("status", lambda r: r["status"]),
             ("started_by", lambda r: r["started_by"]), ("created_at", lambda r: r["created_at"]),
             ("ended_at", lambda r: r["ended_at"]), ("current_steps", _current)]
TASKS = [("id", lambda r: r["id"]), ("instance_id", lambda r: r["instance_id"]),
         ("process", lambda r: r["process_key"]), ("label", lambda r: r["instance_label"]),
         ("task", lambda r: r["name"]), ("roles", lambda r: ", ".join(r["roles"] or ())),
         ("assignee", lambda r: r["assignee"]), ("claimed_by", lambda r: r["claimed_by"]),
         ("created_at", lambda r: r["created_at"]), ("due_at", lambda r: r["due_at"])]
STEPS = [("element_id", lambda s: s["element_id"]), ("step", lambda s: s["name"]), ("runs", lambda s: s["runs"]),
         ("rework", lambda s: s["rework"])] + [
    (f"{figure}_{stat}", (lambda f, t: lambda s: s[f][t])(figure, stat))
    for figure in ("wait_s", "work_s", "total_s") for stat in ("median", "p90")] + [
    ("overdue_share", lambda s: s["overdue_share"]), ("estimate_s", lambda s: s["estimate_s"])]
