"""One evaluation as the server sees it (`run`), and SpiffWorkflow's script engine over it."""
import json

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from . import helpers, pool, protocol
from .codec import Budget, Unstorable, encode
from .helpers import HELPER_NAMES
from .limits import SandboxError
from .policy import compile_code


def run(source, names, mode="eval"):
    """Evaluate an expression (mode "eval") or run a script (mode "exec") over `names`.

    For scripts, `names` is updated in place with the variables the script assigns (and loses
    those it deletes). Values that are not data (functions, modules, ...) are not passed in.
    """
    compile_code(source, mode)
    budget, encoded = Budget(), []
    for key, value in names.items():
        # a helper's name always means the helper: data named `date` or `now` would hide it
        if not isinstance(key, str) or key.startswith("_") or key in HELPER_NAMES:
            continue
        try:
            encoded.append([key, encode(value, budget)])
        except Unstorable:
            continue
    from .. import clock
    request = protocol.request(source, mode, clock.now(), helpers.current_calendar(), {"d": encoded})
    try:
        reply = json.loads(pool.call(request))
    except ValueError:
        raise SandboxError("malformed reply from the sandbox") from None
    return protocol.outcome(reply, names, mode)


class SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment with every evaluation going through `run`."""

    def evaluate(self, expression, context, external_context=None):
        names = dict(external_context or {})
        names.update(context)
        return run(expression, names, "eval")

    def execute(self, script, context, external_context=None):
        names = dict(external_context or {})
        names.update(context)
        run(script, names, "exec")
        for key in list(context):
            if key not in names:
                del context[key]
        context.update({k: v for k, v in names.items() if not (external_context and k in external_context)})
        return True


def script_engine():
    """A SpiffWorkflow script engine that runs everything in the sandbox."""
    return PythonScriptEngine(environment=SandboxEnvironment())
