"""The sandbox worker process: where diagram code runs.

`pool` starts it as ``python -I -c BOOT`` with no secrets in its environment. `serve` warms up,
then limits the process (no files or sockets: RLIMIT_NOFILE; no processes: RLIMIT_NPROC; no
file writes: RLIMIT_FSIZE; bounded memory: RLIMIT_AS; `nobody` instead of root) and answers one
request at a time until its input ends. An evaluation stops after `MAX_STEPS` traced steps or
`MAX_SECONDS` of wall time (the tracer); a C-level operation the tracer cannot interrupt
(``pow(10, 10**10)``, ``x in huge_list``) is ended by the process's own alarm, which kills it.
"""
import contextlib
import datetime as _dt
import json
import os
import signal
import sys
import time

from .. import workdays
from . import helpers, modules, protocol
from .codec import Budget, Unstorable, decode, dumps, encode
from .helpers import HELPER_NAMES
from .limits import FILENAME, MAX_REPLY_BYTES, MAX_SECONDS, MAX_STEPS, MEMORY_BYTES, SandboxError
from .modules import SafeModule
from .policy import compile_code

BOOT = ("import sys; sys.path.insert(0, {root!r}); sys.setrecursionlimit(400); "
        "from engine.sandbox.worker import serve; serve()")


class _Tracer:
    """A trace function counting steps and wall time of one evaluation."""

    def __init__(self):
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def __call__(self, frame, event, arg):
        if event == "call" and frame.f_code.co_filename != FILENAME:
            return None         # the helpers and guards are ours: not traced, not counted
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SandboxError(f"diagram code ran more than {MAX_STEPS} steps")
        if self.steps % 1000 == 0 and time.monotonic() > self.deadline:
            raise SandboxError(f"diagram code ran longer than {MAX_SECONDS} s")
        return self


def _line_of(error):
    line, trace = None, error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == FILENAME:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def evaluate(source, mode, names):
    """Run one request; return the reply as JSON-able data."""
    code = compile_code(source, mode)
    modules.begin()        # what an earlier evaluation did to `random` or `decimal` does not last
    scope = helpers.scope()
    scope.update(names)
    previous = sys.gettrace()
    sys.settrace(_Tracer())
    try:
        if mode == "eval":
            result = eval(code, scope)  # noqa: S307 - restricted code object, in the worker
        else:
            exec(code, scope)  # noqa: S102 - restricted code object, in the worker
    finally:
        sys.settrace(previous)
    budget = Budget()
    if mode == "eval":
        try:
            return ["ok", encode(result, budget)]
        except Unstorable as kind:
            raise SandboxError(f"the expression gave a {kind} value, which is not data") from None
    assigned = []
    for key, value in scope.items():
        if key.startswith("_") or (key in HELPER_NAMES and key not in names) or callable(value) \
                or isinstance(value, SafeModule):   # what a script imported is not data
            continue
        try:
            assigned.append([key, encode(value, budget)])
        except Unstorable as kind:
            raise SandboxError(f"variable {key!r} holds a {kind} value, which cannot be stored") from None
    deleted = [key for key in names if key not in scope]
    return ["ok", {"d": assigned}, deleted]


def _limit_process():
    """Resource limits of the worker process: no files, no sockets, no processes, bounded memory."""
    import resource
    if os.geteuid() == 0:   # root ignores RLIMIT_NPROC and may raise limits again: become nobody first
        try:
            import pwd
            nobody = pwd.getpwnam("nobody")
            uid, gid = nobody.pw_uid, nobody.pw_gid
        except (ImportError, KeyError):
            uid = gid = 65534
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        except OSError:
            pass
    try:
        with open("/proc/self/status") as status:
            size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        size = 0
    limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_NPROC, 0)]
    if size:
        limits.append((resource.RLIMIT_AS, size + MEMORY_BYTES))
    for limit, value in limits:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(limit, (value, value))
    try:
        highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    except (OSError, ValueError):
        highest = 2
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, highest + 1))


def _answer(body):
    """The reply frame's payload for one request's body."""
    try:
        request = json.loads(body)
        helpers.use_calendar(request.get("calendar") or workdays.EVERY_DAY)
        helpers.moment.value = _dt.datetime.fromisoformat(request["now"])
        reply = evaluate(request["source"], request["mode"], decode(request["names"]))
        payload = dumps(reply)
        if len(payload) > MAX_REPLY_BYTES:
            raise SandboxError(f"the data is too large (more than {MAX_REPLY_BYTES} bytes)")
        return payload
    except BaseException as error:  # noqa: BLE001 - everything becomes a reply
        try:
            return dumps(protocol.reply_for(error, _line_of(error)))
        except BaseException:  # noqa: BLE001
            return dumps(["refused", "diagram code failed in a way that cannot be reported", None])


def serve():
    """The worker's main loop: read a request, evaluate it, write the reply; exit on end of input."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    devnull = open(os.devnull, "w")  # noqa: SIM115 - for the life of the worker
    sys.stdout = sys.stderr = devnull
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is for the server, which ends us by EOF
    signal.signal(signal.SIGALRM, signal.SIG_DFL)      # an overrun ends the worker even inside C code
    helpers.moment.value = _dt.datetime(2000, 1, 1)
    evaluate("len([1]) + 1", "eval", {})              # warm up every import before the limits apply
    evaluate("x = [date('2024-01-01'), days(1), now(), {1: (2,)}, {3}]", "exec", {})
    evaluate(f"import {', '.join(modules.ALLOWED_MODULES)}\nx = random.random()", "exec", {})
    _limit_process()
    while True:
        header = protocol.read_exactly(stdin, protocol.HEADER_BYTES)
        if header is None:
            return
        body = protocol.read_exactly(stdin, protocol.frame_size(header))
        if body is None:
            return
        signal.setitimer(signal.ITIMER_REAL, MAX_SECONDS + 1.0)
        try:
            payload = _answer(body)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        protocol.write_frame(stdout, payload)
