"""The only place diagram code runs: conditions, scripts, due dates, timers, collections.

A `.bpmn` file is code written by someone else. SpiffWorkflow's default environment runs it
with plain ``eval``/``exec``; here every expression and script is

- compiled by RestrictedPython (no dunder names, no frame or code attributes, guarded attribute
  access, imports of six harmless standard modules only, each as a stand-in with its public
  members) against a small vetted set of helpers, and refused at deploy when it does not compile
  (`policy`, `helpers`, `modules`);
- run in a separate, long-lived *sandbox worker process* that has no secrets in its
  environment, cannot open files or sockets, cannot start processes, cannot write files, has a
  memory cap and, when the server runs as root, gives up root for `nobody` (`worker`, `pool`);
- stopped after `MAX_STEPS` traced steps or `MAX_SECONDS` of wall time, and killed when a single
  C-level operation overruns (`worker`, `pool`);
- guarded around the operators and text methods that build big values (`guards`);
- only able to hand back plain data (numbers, text, lists, dicts, sets, tuples, dates,
  date-times, durations; decimals as numbers) of bounded size, through a JSON codec (`codec`,
  `protocol`).

Anything the sandbox refuses surfaces as `SandboxError`; ordinary errors of the code
(NameError, KeyError, ZeroDivisionError, ...) keep their type. The runtime turns both into a
visible incident on the element.

The modules, in the order a request meets them:

| module | owns |
|---|---|
| `limits` | every limit, and `SandboxError` |
| `policy` | RestrictedPython's policy plus Baton's; `compile_code`, `check` (deploy) |
| `helpers` | the names diagram code sees; the moment and calendar of the evaluation |
| `modules` | the standard modules scripts may import (`datetime`, `decimal`, `json`, `math`, `random`, `re`) |
| `guards` | the size and width guards the policy wires in |
| `codec` | values to and from tagged JSON, with a budget |
| `protocol` | frames, requests and replies between the server and a worker |
| `worker` | the worker process: limits, tracer, the evaluation loop |
| `pool` | starting, reusing and stopping workers |
| `evaluation` | `run`, and SpiffWorkflow's script engine over it |

The rest of Baton uses only what this package exports below.
"""
from .evaluation import run, script_engine
from .helpers import HELPER_NAMES, current_calendar, use_calendar
from .limits import MAX_SECONDS, SandboxError
from .policy import check
from .pool import shutdown, worker_pids

__all__ = ["HELPER_NAMES", "MAX_SECONDS", "SandboxError", "check", "current_calendar", "run", "script_engine",
           "shutdown", "use_calendar", "worker_pids"]
