"""The worker protocol: what the server and a worker send each other over the worker's pipes.

A message is a frame: 8 bytes of big-endian length, then that many bytes of JSON (`codec`).

- request: ``{"source", "mode": "eval"|"exec", "now": ISO date-time, "calendar", "names": encoded}``;
- reply: ``["ok", encoded value]`` (eval), ``["ok", encoded assignments, [deleted names]]`` (exec),
  ``["refused", message, line]`` (a sandbox rule or limit) or ``["error", class name, message, line]``
  (an ordinary error of the code). `line` is the line of the diagram code, or null.

Anything else is a malformed reply and refused; error classes outside `_PASS_THROUGH` are never
raised here under their own type.
"""
import struct

from .codec import decode, dumps
from .limits import SandboxError

# exception classes diagram code may raise and see again here with their type
_PASS_THROUGH = {cls.__name__: cls for cls in (
    NameError, KeyError, TypeError, ValueError, ZeroDivisionError, IndexError, AttributeError, ArithmeticError,
    OverflowError, AssertionError, LookupError, RuntimeError, UnboundLocalError, NotImplementedError)}
HEADER_BYTES = 8


def write_frame(stream, payload):
    stream.write(struct.pack(">Q", len(payload)) + payload)
    stream.flush()


def frame_size(header):
    return struct.unpack(">Q", header)[0]


def read_exactly(stream, size):
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def request(source, mode, now, calendar, names):
    return dumps({"source": source, "mode": mode, "now": now.isoformat(), "names": names, "calendar": calendar})


def reply_for(error, line):
    """The reply that reports `error`, raised by diagram code at `line` (worker side)."""
    if isinstance(error, SandboxError):
        return ["refused", str(error), line]
    if isinstance(error, RecursionError):
        return ["refused", "diagram code recursed too deeply", line]
    if isinstance(error, MemoryError):
        return ["refused", "diagram code used too much memory", line]
    args = error.args
    message = args[0] if len(args) == 1 and isinstance(args[0], str) else str(error)
    return ["error", error.__class__.__name__, message, line]


def outcome(reply, names, mode):
    """The value of an "eval" reply; for "exec", `names` updated with the script's assignments and
    deletions (server side). A refusal or an error is raised."""
    if not isinstance(reply, list) or not reply:
        raise SandboxError("malformed reply from the sandbox")
    if reply[0] == "refused" and len(reply) == 3:
        raise SandboxError(_with_line(str(reply[1]), reply[2], mode))
    if reply[0] == "error" and len(reply) == 4:
        cls = _PASS_THROUGH.get(reply[1])
        message = _with_line(str(reply[2]), reply[3], mode)
        if cls is None:
            raise SandboxError(f"{reply[1]}: {message}")
        raise cls(message)
    if reply[0] == "ok" and mode == "eval" and len(reply) == 2:
        return decode(reply[1])
    if reply[0] == "ok" and mode == "exec" and len(reply) == 3 and isinstance(reply[2], list):
        assigned = decode(reply[1])
        if not isinstance(assigned, dict) or not all(isinstance(k, str) for k in assigned):
            raise SandboxError("malformed reply from the sandbox")
        names.update(assigned)
        for key in reply[2]:
            if isinstance(key, str):
                names.pop(key, None)
        return None
    raise SandboxError("malformed reply from the sandbox")


def _with_line(message, line, mode):
    return f"{message} (line {line})" if mode == "exec" and isinstance(line, int) else message
