"""gunicorn, embedded: `baton serve` runs N processes, each creating its own app and connection pool."""
import gc
import os

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

# what the fields of gunicorn's default access line read from the WSGI environ
_LOGGED = ("REMOTE_ADDR", "REQUEST_METHOD", "RAW_URI", "SERVER_PROTOCOL", "PATH_INFO", "QUERY_STRING", "HTTP_REFERER",
           "HTTP_USER_AGENT", "HTTP_AUTHORIZATION")


class AccessLog(Logger):
    """gunicorn's logger, writing the same access line; for each request it also copies every request header
    and the whole WSGI environ into the fields a custom format could name, a few per cent of a task
    completion's time, for a format `baton serve` never sets."""

    def atoms(self, resp, req, environ, request_time):
        return super().atoms(resp, (), {key: environ[key] for key in _LOGGED if key in environ}, request_time)


def _heartbeat_folder():
    """Where the workers' heartbeat files go: each worker touches its file at every turn of its event loop,
    which on a disk-backed /tmp cost 6 % of a worker's time (gunicorn's docs advise a memory-backed folder)."""
    shared_memory = "/dev/shm"   # noqa: S108 - gunicorn's heartbeat files, no data
    return shared_memory if os.path.isdir(shared_memory) and os.access(shared_memory, os.W_OK) else None


class Server(BaseApplication):
    def __init__(self, app_factory, **options):
        self.app_factory = app_factory
        self.options = {"worker_class": "gthread", "accesslog": "-", "logger_class": AccessLog, "graceful_timeout": 10,
                        "worker_tmp_dir": _heartbeat_folder(), **options}
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """Build the app in the worker process, then move everything built so far out of the garbage
        collector's sight: full collections over the app's long-lived objects made the slowest
        pages (p95) five times slower than the median (bench/long_instances.py)."""
        app = self.app_factory()
        gc.freeze()
        return app
