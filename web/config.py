"""Configuration from the environment (see the README's Configuration section)."""
import os
import secrets
from pathlib import Path

from engine.database import database_url, engine_options
from engine.files import max_bytes as max_file_bytes
from modeller.reader import max_upload_bytes


def _secret_key(instance_path):
    """BATON_SECRET_KEY, else a key kept in the instance folder so sessions survive restarts."""
    if os.environ.get("BATON_SECRET_KEY"):
        return os.environ["BATON_SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def from_environment(instance_path):
    url = database_url()
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(url),
        "MAX_CONTENT_LENGTH": max(max_upload_bytes(), max_file_bytes()) * 4,   # a diagram or a few files
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("BATON_SECURE_COOKIES", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": int(os.environ.get("BATON_SESSION_SECONDS", 8 * 3600)),
        "WTF_CSRF_TIME_LIMIT": None,
        "BATON_PAGE_SIZE": int(os.environ.get("BATON_PAGE_SIZE", 25)),
    }
