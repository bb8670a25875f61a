"""Files the lists can be downloaded as (`format=csv`), answered the same way by the API and the pages."""
import unicodedata
from urllib.parse import quote

from flask import Response, request

from engine import files
from engine.insight import exports


def wants_csv():
    return request.args.get("format") == "csv"


def csv_reply(name, header, rows):
    return Response(exports.to_csv(header, rows), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": attachment(f"{name}.csv")})


def attachment(filename, disposition="attachment"):
    """The Content-Disposition of a download named `filename` (RFC 6266): the exact name, UTF-8 and
    percent-encoded, in `filename*` (RFC 5987), and an ASCII stand-in in `filename` for old clients.
    A raw name in the header broke on `диаграмма.bpmn` (headers are Latin-1) and was cut at a `"`."""
    plain = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    plain = "".join(c if 0x20 <= ord(c) < 0x7f and c not in '"\\' else "_" for c in plain) or "download"
    return f"{disposition}; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def stored_file_reply(row, content):
    """An attached file as its content made it (never as the uploader named it): images shown in the page,
    everything else downloaded; sandboxed, so even a text file that looks like HTML runs nothing."""
    disposition = attachment(row.name, "inline" if files.is_image(row) else "attachment")
    return Response(content, mimetype=row.content_type,
                    headers={"Content-Disposition": disposition, "Cache-Control": "private, max-age=3600",
                             "Content-Security-Policy": "sandbox; default-src 'none'"})
