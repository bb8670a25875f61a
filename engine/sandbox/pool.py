"""The server's side of the workers: starting them, reusing idle ones, stopping them.

At most `MAX_WORKERS` evaluations run at once per server process. A worker that overruns, dies
or answers out of protocol is killed and never reused; the next request starts a fresh one. After
a fork the child starts its own workers (the parent's belong to the parent).
"""
import atexit
import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

from . import protocol
from .limits import MAX_REPLY_BYTES, MAX_SECONDS, MAX_WORKERS, MEMORY_BYTES, PYTHON, SandboxError
from .worker import BOOT

ROOT = Path(__file__).resolve().parents[2]   # the folder `engine` is in: the worker imports from it


class _Lost(Exception):
    """The worker died or overran; the message says why."""


class _Worker:
    def __init__(self):
        env = {"LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "BATON_SANDBOX_MEMORY_MB": str(MEMORY_BYTES >> 20)}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter running our own module
            [PYTHON, "-I", "-c", BOOT.format(root=str(ROOT))], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd="/", env=env, close_fds=True,
            start_new_session=True)
        self.pid = os.getpid()

    def alive(self):
        return self.process.poll() is None

    def call(self, payload, timeout):
        try:
            protocol.write_frame(self.process.stdin, payload)
        except (BrokenPipeError, OSError):
            raise _Lost("the sandbox worker stopped") from None
        deadline = time.monotonic() + timeout
        size = protocol.frame_size(self._read(protocol.HEADER_BYTES, deadline))
        if size > MAX_REPLY_BYTES + 1024:
            raise _Lost("the sandbox worker sent an oversized reply")
        return self._read(size, deadline)

    def _read(self, size, deadline):
        fd, chunks, left = self.process.stdout.fileno(), [], size
        while left:
            remaining = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(remaining, 0))[0] if remaining > 0 else []
            if not ready:
                raise _Lost(f"diagram code ran longer than {MAX_SECONDS} s")
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                self.process.wait(timeout=5)
                code = self.process.returncode
                if code == -signal.SIGALRM:
                    raise _Lost(f"diagram code ran longer than {MAX_SECONDS} s")
                if code in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT):
                    raise _Lost("diagram code used too much memory or crashed the sandbox")
                raise _Lost(f"the sandbox worker stopped (exit status {code})")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self):
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        self._release()

    def kill(self):
        try:
            self.process.kill()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._release()

    def _release(self):
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()


class _Pool:
    """Idle workers, reused; at most MAX_WORKERS evaluations at once per server process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(MAX_WORKERS)
        self.idle = []
        self.pid = os.getpid()

    def call(self, payload):
        with self.slots:
            worker = self._take()
            try:
                reply = worker.call(payload, MAX_SECONDS + 2.0)
            except _Lost as lost:
                worker.kill()
                raise SandboxError(str(lost)) from None
            except BaseException:
                worker.kill()
                raise
            with self.lock:
                self.idle.append(worker)
            return reply

    def _take(self):
        with self.lock:
            if self.pid != os.getpid():     # forked: the workers belong to the parent
                self.idle, self.pid = [], os.getpid()
            while self.idle:
                worker = self.idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return _Worker()

    def close(self):
        with self.lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            if worker.pid == os.getpid():
                worker.close()


_POOL = _Pool()
atexit.register(_POOL.close)


def call(payload):
    """Send one request frame to a worker and return its reply frame."""
    return _POOL.call(payload)


def shutdown():
    """Stop the idle sandbox workers (they are started again when needed)."""
    _POOL.close()


def worker_pids():
    """Process ids of the idle sandbox workers (for tests and diagnostics)."""
    with _POOL.lock:
        return [w.process.pid for w in _POOL.idle if w.alive()]
