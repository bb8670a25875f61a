"""gunicorn, embedded: `baton serve` runs N processes, each creating its own app and connection pool."""
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
        return self.app_factory()
