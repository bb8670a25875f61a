"""The sandbox's limits, and the error that says one was broken.

Every other module of the sandbox reads its limits here, so a limit is changed in one place and
the worker process (which imports this module too) applies the same figures as the server.
"""
import os
import sys

MAX_STEPS = 200_000          # traced lines per evaluation
MAX_SECONDS = 2.0            # wall clock per evaluation
MAX_SEQUENCE = 100_000       # items or characters one operation may build
MAX_INT_BITS = 13_000        # about 3,900 digits: what the JSON serialiser can still write
MAX_NODES = 1_000_000        # values (nested, counted as stored) a script may hand back
MAX_DEPTH = 64               # nesting of the data a script may hand back
MAX_REPLY_BYTES = 16 * 1024 * 1024
MAX_PRINTED = 100_000        # characters of print() output one evaluation keeps (in `printed`); the rest is dropped
MEMORY_BYTES = int(os.environ.get("BATON_SANDBOX_MEMORY_MB", 256)) * 1024 * 1024
MAX_WORKERS = int(os.environ.get("BATON_SANDBOX_WORKERS", 4))
PYTHON = os.environ.get("BATON_SANDBOX_PYTHON", sys.executable)   # the interpreter the workers run on
FILENAME = "<diagram>"       # the file name diagram code is compiled under: how tracebacks find its lines


class SandboxError(Exception):
    """Diagram code broke a sandbox rule or a limit; the message says which."""
