"""gunicorn, embedded: `baton serve` runs N processes, each creating its own app and connection pool."""
import gc

from gunicorn.app.base import BaseApplication


class Server(BaseApplication):
    def __init__(self, app_factory, **options):
        self.app_factory = app_factory
        self.options = {"worker_class": "gthread", "accesslog": "-", "graceful_timeout": 10, **options}
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
