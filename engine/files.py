"""Files people attach to a form (`type="file"` fields): the designer's images, the writer's draft.

A file is judged by its content, never by the name or type the browser claims: only the kinds below
are kept (an `.exe` renamed `.png` is refused), each field may narrow them (`accept`), bound their size
(`maxsize`, in MB, under `BATON_FILE_MAX_MB`) and their number (`maxfiles`, default 1). The bytes live
in the database, or in `BATON_FILE_FOLDER` when set (named by their SHA-256, so a file attached twice
is kept once); the instance data holds only references `{"file_id", "name", "type", "size"}`, so the
workflow's state stays small and a later step's form shows the files as thumbnails or links. A file is
served to those who may see its instance, and nobody else.
"""
import base64
import binascii
import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import clock
from .errors import Forbidden, Invalid, NotFound
from .insight.visibility import may_see_instance
from .models import Instance, StoredFile, fetch

MAX_FILES = 20
_NAME_JUNK = re.compile(r"[\x00-\x1f\x7f/\\]")

# content type → (what people call it, extension); every kind Baton keeps
KINDS = {
    "image/png": ("PNG image", ".png"), "image/jpeg": ("JPEG image", ".jpg"), "image/gif": ("GIF image", ".gif"),
    "image/webp": ("WebP image", ".webp"), "application/pdf": ("PDF", ".pdf"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("Word document", ".docx"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("Excel workbook", ".xlsx"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("PowerPoint deck", ".pptx"),
    "application/zip": ("ZIP archive", ".zip"), "text/plain": ("text file", ".txt"), "text/csv": ("CSV file", ".csv"),
}
IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_OFFICE = {"word/": ".docx", "xl/": ".xlsx", "ppt/": ".pptx"}


def max_bytes():
    """The largest file anyone may attach (`BATON_FILE_MAX_MB`, default 10 MB)."""
    return int(float(os.environ.get("BATON_FILE_MAX_MB", "10")) * 1024 * 1024)


@dataclass(frozen=True)
class Upload:
    """A file as it arrived; once checked, with the content type its bytes showed (`kind`)."""
    name: str
    content: bytes
    kind: str | None = None


def sniff(content, name=""):
    """The content type of `content` judged by its bytes, or None when it is no kind Baton keeps."""
    head = content[:16]
    for signature, kind in ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                            (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf")):
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(content)
    if b"\x00" not in content:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/csv" if name.lower().endswith(".csv") else "text/plain"
    return None


def _zip_kind(content):
    """An Office document is a ZIP whose parts say which; any other readable ZIP is an archive."""
    try:
        names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" in names:
        for folder, extension in _OFFICE.items():
            if any(n.startswith(folder) for n in names):
                return next(k for k, (_, ext) in KINDS.items() if ext == extension)
    return "application/zip"


def _accepts(accept, kind):
    """Whether a field's `accept` list (`image/*, application/pdf, .docx`) admits `kind`."""
    for item in (part.strip().lower() for part in (accept or "").split(",") if part.strip()):
        if item == kind or item == "*" or item == "*/*" or (item.endswith("/*") and kind.startswith(item[:-1])) \
                or item == KINDS[kind][1] or (item == ".jpeg" and kind == "image/jpeg"):
            return True
    return not (accept or "").strip()


def accepted_text(field):
    """`PNG image, JPEG image or PDF`: the kinds a field takes, in words."""
    names = [name for kind, (name, _) in KINDS.items() if _accepts(field.get("accept"), kind)]
    if len(names) == len(KINDS):
        return "images, PDF, Office documents, text or ZIP"
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1] if names else "nothing"


def rule_text(field):
    """A file field's rules as its form shows them before anyone picks a file."""
    size, most = field_limits(field)
    many = f"Up to {most} files of at most {size_text(size)} each" if most > 1 else \
        f"One file of at most {size_text(size)}"
    return f"{many}: {accepted_text(field)}"


def clean_name(name):
    """A file name as it may be shown and offered again: no folders, no control characters."""
    name = _NAME_JUNK.sub("_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return name[-200:] or "file"


def upload_from_json(value):
    """`{"name": "hero.png", "content": "<base64>"}` (the API's way to attach a file) as an Upload."""
    name, content = value.get("name"), value.get("content")
    if not isinstance(name, str) or not isinstance(content, str):
        raise ValueError('takes files as {"name": "…", "content": "<base64>"}')
    name = clean_name(name)
    if len(content) > max_bytes() * 4 // 3 + 4:
        raise ValueError(f"cannot take {name}: it is larger than {size_text(max_bytes())}")
    try:
        return Upload(name, base64.b64decode(content, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError(f"cannot take {name}: its content is not base64") from None


def field_limits(field):
    """(largest size in bytes, most files) for a file field; a field can only narrow the server's limit."""
    size = max_bytes()
    if field.get("maxsize") not in (None, ""):
        size = min(size, int(float(field["maxsize"]) * 1024 * 1024))
    return size, min(int(field.get("maxfiles") or 1), MAX_FILES)


def checked(field, value):
    """A file field's submitted value as a list of Uploads and kept references, or ValueError saying
    what is wrong in the words the form shows."""
    items = value if isinstance(value, list) else [value]
    size, most = field_limits(field)
    if len(items) > most:
        raise ValueError(f"takes at most {most} file{'s' if most > 1 else ''}")
    result = []
    for item in items:
        if isinstance(item, dict) and "file_id" in item:
            if not isinstance(item["file_id"], int) or isinstance(item["file_id"], bool):
                raise ValueError("refers to a file by a number (file_id)")
            result.append({"file_id": item["file_id"]})
            continue
        upload = upload_from_json(item) if isinstance(item, dict) else item
        if not isinstance(upload, Upload):
            raise ValueError('must be files ({"name": "…", "content": "<base64>"})')
        name = clean_name(upload.name)
        if len(upload.content) > size:
            raise ValueError(f"cannot take {name}: it is larger than {size_text(size)}")
        if not upload.content:
            raise ValueError(f"cannot take {name}: it is empty")
        kind = sniff(upload.content, name)
        if kind is None:
            raise ValueError(f"cannot take {name}: it is no kind of file Baton keeps (images, PDF, Office documents, "
                             "text, ZIP)")
        if not _accepts(field.get("accept"), kind):
            raise ValueError(f"cannot take {name}: it is a {KINDS[kind][0]}, not {accepted_text(field)}")
        result.append(Upload(name, upload.content, kind))
    return result


def keep(session, instance, task_id, fields, values, actor):
    """Store the Uploads among `values` (as `checked` gave them, with their kind) for `instance` and return
    `values` with references in their place; a reference must be to a file of this same instance. Runs in
    the caller's transaction."""
    kept = dict(values)
    for field in (f for f in fields if f["type"] == "file" and f["id"] in values):
        refs = []
        for item in values[field["id"]]:
            if isinstance(item, Upload):
                row = _store(session, instance.id, task_id, field["id"], item, actor)
            else:
                try:
                    row = fetch(session, StoredFile, item["file_id"], "file")
                except NotFound:
                    row = None
                if row is None or row.instance_id != instance.id:
                    problem = f"file {item['file_id']} is not one of this work's files"
                    raise Invalid("the form has errors", [{"field": field["id"], "message": problem}])
            refs.append(reference(row))
        kept[field["id"]] = refs
    return kept


def _store(session, instance_id, task_id, field_id, upload, actor):
    digest = hashlib.sha256(upload.content).hexdigest()
    folder = os.environ.get("BATON_FILE_FOLDER")
    if folder:
        _write_once(Path(folder).resolve() / digest[:2] / digest, upload.content)
    row = StoredFile(instance_id=instance_id, task_id=task_id, field=field_id, name=upload.name,
                     content_type=upload.kind, size=len(upload.content), sha256=digest,
                     content=None if folder else upload.content, uploaded_by=actor.username,
                     uploaded_at=clock.now())
    session.add(row)
    session.flush()
    return row


def _write_once(path, content):
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(content)
    partial.replace(path)


def reference(row):
    return {"file_id": row.id, "name": row.name, "type": row.content_type, "size": row.size}


def for_reader(session, file_id, actor):
    """A kept file and its bytes, for someone who may see its instance (the rule is `insight.visibility`'s,
    the same as for the instance's page)."""
    row = fetch(session, StoredFile, file_id, "file")
    if not may_see_instance(session, session.get(Instance, row.instance_id), actor):
        raise Forbidden(f"file {file_id} belongs to work you have no part in")
    return row, content(row)


def content(row):
    """The bytes of a kept file, from the database or the folder."""
    if row.content is not None:
        return row.content
    folder = os.environ.get("BATON_FILE_FOLDER")
    path = Path(folder or ".").resolve() / row.sha256[:2] / row.sha256
    if not folder or not path.exists():
        raise NotFound(f"the bytes of file {row.id} are not in BATON_FILE_FOLDER")
    return path.read_bytes()


def is_image(row):
    return row.content_type in IMAGES


def size_text(size):
    """`1.2 MB`, `10 MB`, `34 KB`: a file's size as people read it."""
    return f"{round(size / (1024 * 1024), 1):g} MB" if size >= 1024 * 1024 else f"{max(round(size / 1024), 1)} KB"
