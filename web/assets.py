"""What the browser downloads, and how often: static files with content fingerprints in their URLs and a
year's cache lifetime, gzip for text (the modeller's script is 1.9 MB, about 0.5 MB compressed), and
ETags on diagrams, which never change once deployed, so a page load revalidates instead of fetching."""
import functools
import gzip
import hashlib
from pathlib import Path

from flask import Response, request, send_from_directory

MODELLER_STATIC = Path(__file__).resolve().parent.parent / "modeller" / "static"
YEAR = 365 * 24 * 3600
COMPRESSIBLE = ("text/", "application/json", "application/javascript", "application/xml", "image/svg+xml")
SMALLEST_COMPRESSED = 1400   # below one packet, compressing saves no round trip


@functools.lru_cache(maxsize=256)
def _fingerprint(path, _mtime_ns, _size):
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def fingerprint(folder, filename):
    """A short hash of the file's content (recomputed when the file changes), or None when it is missing."""
    path = (Path(folder) / filename).resolve()
    if not path.is_file() or not path.is_relative_to(Path(folder).resolve()):
        return None
    stat = path.stat()
    return _fingerprint(path, stat.st_mtime_ns, stat.st_size)


def _accepts_gzip(mimetype):
    return mimetype.startswith(COMPRESSIBLE) and "gzip" in request.accept_encodings


@functools.lru_cache(maxsize=32)
def _gzipped(path, _fingerprint):
    """A file's compressed bytes, made once per content."""
    return gzip.compress(path.read_bytes(), compresslevel=9)


def _send(folder, filename):
    """The file (compressed once, when the browser accepts it), cached for a year when the URL names its
    current fingerprint, else revalidated by ETag."""
    response = send_from_directory(folder, filename, etag=False, conditional=False)
    current = fingerprint(folder, filename)
    if current and request.args.get("v") == current:
        response.cache_control.public, response.cache_control.max_age = True, YEAR
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True
    response.vary.add("Accept-Encoding")
    zipped = _accepts_gzip(response.mimetype)
    if zipped:
        response.direct_passthrough = False
        response.set_data(_gzipped((Path(folder) / filename).resolve(), current))
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(f"{current}-gzip" if zipped else current)   # a different body needs a different tag
    return response.make_conditional(request)


def diagram(content):
    """A diagram's XML with an ETag: a conditional request gets 304 and no body."""
    response = Response(content, mimetype="application/xml")
    response.set_etag(hashlib.sha256(content).hexdigest()[:32])
    response.cache_control.private, response.cache_control.no_cache = True, True
    return response.make_conditional(request)


def _compress(response):
    """Pages and other generated text, compressed when the browser accepts it and it is worth a packet."""
    if (response.status_code != 200 or response.direct_passthrough or response.is_streamed
            or "Content-Encoding" in response.headers or not _accepts_gzip(response.mimetype)):
        return response
    response.vary.add("Accept-Encoding")
    body = response.get_data()
    if len(body) >= SMALLEST_COMPRESSED:
        response.set_data(gzip.compress(body, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
        etag, weak = response.get_etag()
        if etag:
            response.set_etag(f"{etag}-gzip", weak)
    return response


def register(app):
    folders = {"static": app.static_folder, "modeller_static": MODELLER_STATIC}
    app.view_functions["static"] = lambda filename: _send(app.static_folder, filename)
    app.add_url_rule("/modeller-static/<path:filename>", "modeller_static",
                     lambda filename: _send(MODELLER_STATIC, filename))

    @app.url_defaults
    def fingerprinted(endpoint, values):
        if endpoint in folders and "filename" in values and "v" not in values:
            values["v"] = fingerprint(folders[endpoint], values["filename"])

    app.after_request(_compress)
