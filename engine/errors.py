"""What can go wrong in the runtime, in domain words; the web layer maps each to an HTTP status."""


class BatonError(Exception):
    """Base class: `errors` is the list of {message, ...} dicts shown to the caller."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.errors = errors or [{"message": message}]


class NotFound(BatonError):
    """No such definition, process, instance, task or user."""


class Forbidden(BatonError):
    """The actor may not do this (missing role, not the assignee)."""


class Conflict(BatonError):
    """The thing changed meanwhile: task no longer open, claimed by another, instance not running."""


class Invalid(BatonError):
    """Submitted data or an uploaded document is refused; `errors` lists every reason."""
