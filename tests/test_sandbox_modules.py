"""What diagrams written for SpiffArena and Camunda rely on in their code, run end to end: deployed
through the API and started, each script in the sandbox's worker.

- `import` of `datetime`, `decimal`, `json`, `math`, `random` and `re`, in every form (`import x`,
  `import x as y`, `from x import y`), and a clear refusal at deploy of any other module;
- no way from an allowed module to anything else (submodules, `sys`, `os`), and a runaway regular
  expression stopped by the sandbox's time limit, the worker replaced;
- the values those modules make kept as data, or a clear incident when they are not data;
- nothing one script does to `random` or `decimal` reaching the next script;
- `print()` (in scripts and conditions; the output is kept nowhere, bounded) and `locals()`.
"""
import os
import random
import time
from xml.sax.saxutils import escape

import pytest
from test_security_sandbox import DECL, NS, START_FORM, script_diagram

from engine import sandbox
from engine.sandbox.limits import MAX_PRINTED
from engine.sandbox.modules import ALLOWED_MODULES

ALLOWED = "datetime, decimal, json, math, random, re"


def deploy(api, key, script):
    return api["ed"].deploy((f"{key}.bpmn", script_diagram(key, script)))


def run(api, key, script, data=None):
    """Deploy a diagram whose script task runs `script`, start it with `data`; the instance as the API shows
    it after a fresh read (so what the script left went through storage)."""
    deployed = deploy(api, key, script)
    assert deployed.status_code == 201, deployed.get_json()
    started = api["mia"].post(f"/processes/{key}/instances", json={"data": {"amount": 5, **(data or {})}})
    assert started.status_code == 201, started.get_json()
    return api["mia"].get(f"/instances/{started.get_json()['id']}").get_json()


def ran(instance):
    """The data of an instance whose script ran (it waits at the user task after it)."""
    assert instance["status"] == "running" and instance["incident"] is None, instance
    assert [t["element_id"] for t in instance["tasks"]] == ["Task_after"], instance
    return instance["data"]


def failed(instance):
    """The incident message of an instance whose script failed."""
    assert instance["status"] == "failed", instance
    assert instance["incident"]["element_id"] == "Script_payload", instance["incident"]
    return instance["incident"]["message"]


# module → (script importing it in the three forms, the data it must leave)
USES = {
    "datetime": ("import datetime\nimport datetime as dt\nfrom datetime import date, timedelta as td\n"
                 "start = datetime.date(2024, 1, 31)\nend = start + td(days=1)\nsame = dt.date is date\n"
                 "weekday = date(2024, 3, 1).isoweekday()\nat = dt.datetime.fromisoformat('2024-05-01T09:30:00')\n",
                 {"start": "2024-01-31", "end": "2024-02-01", "same": True, "weekday": 5,
                  "at": "2024-05-01T09:30:00"}),
    "decimal": ("import decimal\nimport decimal as dec\nfrom decimal import Decimal, ROUND_HALF_UP\n"
                "total = Decimal('19.99') * amount\n"
                "rounded = dec.Decimal('2.675').quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)\n"
                "text = str(decimal.Decimal('0.1') + decimal.Decimal('0.2'))\n",
                {"total": 99.95, "rounded": 2.68, "text": "0.3"}),
    "json": ("import json\nimport json as j\nfrom json import loads, dumps\n"
             "payload = json.dumps({'amount': amount, 'tags': ['a', 'b']}, sort_keys=True)\n"
             "back = j.loads(payload)\nsame = loads(dumps([1, 2.5, None, True])) == [1, 2.5, None, True]\n",
             {"payload": '{"amount": 5, "tags": ["a", "b"]}', "back": {"amount": 5, "tags": ["a", "b"]},
              "same": True}),
    "math": ("import math\nimport math as m\nfrom math import pi, gcd\n"
             "root = math.sqrt(amount * 20)\nwhole = m.floor(pi * 100)\ndivisor = gcd(12, 18)\n"
             "closeness = math.isclose(math.hypot(3, 4), 5)\n",
             {"root": 10.0, "whole": 314, "divisor": 6, "closeness": True}),
    "random": ("import random\nimport random as r\nfrom random import randint, choice\n"
               "roll = randint(1, 6)\npick = choice(['a', 'b'])\nr.seed(1)\nfirst = random.random()\n"
               "shuffled = sorted(random.sample(range(10), 10))\n",
               {"first": random.Random(1).random(), "shuffled": list(range(10))}),
    "re": ("import re\nimport re as regex\nfrom re import sub, IGNORECASE\n"
           "slug = sub(r'[^a-z0-9]+', '-', 'Spring Sale 2024!'.lower()).strip('-')\n"
           "found = re.findall(r'\\d+', 'order 12 of 345')\n"
           "matched = bool(regex.match(r'spring', 'SPRING launch', IGNORECASE))\n"
           "groups = list(re.match(r'(\\w+)@(\\w+)', 'ann@example').groups())\n",
           {"slug": "spring-sale-2024", "found": ["12", "345"], "matched": True, "groups": ["ann", "example"]}),
}


def test_the_allowed_modules_are_the_six_the_issue_names():
    assert ALLOWED_MODULES == ("datetime", "decimal", "json", "math", "random", "re")


@pytest.mark.parametrize("module", sorted(USES))
def test_each_allowed_module_imports_in_every_form_in_a_deployed_script(api, module):
    script, expected = USES[module]
    data = ran(run(api, f"uses_{module}", script))
    assert {key: data.get(key) for key in expected} == expected
    assert not {module, "dt", "dec", "j", "m", "r", "regex"} & set(data), "an imported module is not data"
    if module == "random":
        assert 1 <= data["roll"] <= 6 and data["pick"] in ("a", "b")


@pytest.mark.parametrize("statement, module", [
    ("import os", "os"), ("import subprocess as sp", "subprocess"), ("from sys import modules", "sys"),
    ("import importlib", "importlib"), ("from os.path import join", "os.path"), ("import json.decoder", "json.decoder"),
    ("import math, socket", "socket"), ("from builtins import open", "builtins"),
])
def test_any_other_import_is_refused_at_deploy_naming_it_and_the_allowed_ones(api, statement, module):
    deployed = deploy(api, "refused_import", f"x = 1\n{statement}\ny = 2\n")
    assert deployed.status_code == 422, deployed.get_json()
    problem, = deployed.get_json()["errors"]
    assert problem["element_id"] == "Script_payload"
    assert f"import of {module!r} is not allowed in diagram code; it may import {ALLOWED}" in problem["message"], \
        problem
    assert api["mia"].post("/processes/refused_import/instances", json={"data": {}}).status_code == 404, \
        "nothing was deployed"


def test_a_relative_import_is_refused_at_deploy(api):
    deployed = deploy(api, "relative_import", "from . import helpers\n")
    assert deployed.status_code == 422
    assert "relative imports are not allowed" in deployed.get_json()["errors"][0]["message"]


def test_no_allowed_module_leads_to_another_module(api):
    """Submodules and the modules the real ones import are not members of the stand-ins: reading them gives
    None (RestrictedPython's default for a missing attribute), never a module."""
    paths = ["json.decoder", "json.scanner", "json.encoder", "json.codecs", "datetime.sys", "datetime.time.sys",
             "re.enum", "re.functools", "re.copyreg", "re.sre_compile", "re.sre_parse", "random.os",
             "decimal.sys", "decimal.numbers", "decimal.collections", "math.sys",
             "json.JSONDecoder().scan_once", "re.compile('a').match('a').re"]
    script = "import datetime, decimal, json, math, random, re\n" + \
        "found = [" + ", ".join(f"repr({path})" for path in paths) + "]\n" + \
        "names = [repr(m) for m in (datetime, decimal, json, math, random, re)]\n"
    data = ran(run(api, "escape_paths", script))
    leaks = {path: shown for path, shown in zip(paths, data["found"]) if "module" in shown or "from '" in shown}
    assert not leaks, leaks
    assert data["names"] == [f"<module {m}>" for m in ALLOWED_MODULES], "stand-ins, not the modules"


@pytest.mark.parametrize("script", [
    "import random\nrandom._os.system('id')\n", "import re\nx = re._compiler\n", "import json\nx = json.__dict__\n",
    "import math\nx = math.__loader__\n", "import datetime\nx = datetime.datetime.__subclasses__()\n",
    "import decimal\nx = decimal.Decimal.__module__\n",
])
def test_private_members_of_an_allowed_module_are_refused_at_deploy(api, script):
    deployed = deploy(api, "private_member", script)
    assert deployed.status_code == 422, deployed.get_json()
    assert "starts with \"_\"" in deployed.get_json()["errors"][0]["message"]


@pytest.mark.parametrize("script, reason", [
    ("from json import decoder\n", "decoder"),
    ("from datetime import sys\n", "sys"),
    ("import datetime\ndatetime.sys.modules['os'].system('id')\n", "NoneType"),
    ("import math\nmath.pi = 3\n", "assign"),
    ("import json\nx = json.decoder.re.os\ny = x.system('id')\n", "NoneType"),
])
def test_escape_attempts_through_an_allowed_module_fail_as_an_incident(api, script, reason):
    message = failed(run(api, "escape_attempt", script))
    assert reason in message, message


def test_a_runaway_regular_expression_is_stopped_and_its_worker_replaced(api):
    sandbox.shutdown()   # no idle worker: the next script starts the one worker this test watches
    ran(run(api, "regex_warm", "import re\nok = bool(re.match(r'a+$', 'aaa'))\n"))
    watched, = sandbox.worker_pids()
    began = time.monotonic()
    message = failed(run(api, "regex_runaway", "import re\nhit = re.match(r'(a+)+$', 'a' * 64 + 'b')\n"))
    assert time.monotonic() - began < sandbox.MAX_SECONDS + 5, "the web process was not held up"
    assert "ran longer than" in message, message
    with pytest.raises(ProcessLookupError):
        os.kill(watched, 0)   # the worker that ran it is gone, not left spinning
    assert ran(run(api, "regex_after", "import re\nok = bool(re.match(r'a+$', 'aaa'))\n"))["ok"] is True
    assert sandbox.worker_pids() and watched not in sandbox.worker_pids(), "a fresh worker took over"


def test_dates_durations_and_decimals_are_kept_as_data(api):
    script = ("import datetime, decimal\n"
              "when = datetime.datetime(2024, 5, 1, 9, 30, tzinfo=datetime.timezone.utc)\n"
              "day = datetime.date(2024, 5, 1)\ngap = datetime.timedelta(hours=3)\n"
              "price = decimal.Decimal('19.99')\nlater = when + gap\n")
    instance = run(api, "module_values", script)
    data = ran(instance)
    assert (data["when"], data["day"], data["price"], data["later"]) == \
        ("2024-05-01T09:30:00+00:00", "2024-05-01", 19.99, "2024-05-01T12:30:00+00:00")
    assert data["gap"] == 10800.0, "a duration is shown in seconds"


@pytest.mark.parametrize("script, kind", [
    ("import re\nm = re.match('a', 'a')\n", "Match"), ("import re\np = re.compile('a')\n", "Pattern"),
    ("import datetime\nz = datetime.timezone.utc\n", "timezone"), ("import decimal\nn = decimal.Decimal('NaN')\n",
                                                                   "Decimal"),
    ("import random\ng = random.Random(1)\n", "Random"),
])
def test_a_module_value_that_is_not_data_is_a_clear_incident(api, script, kind):
    message = failed(run(api, "not_data", script))
    assert f"holds a {kind} value, which cannot be stored" in message, message


def test_what_one_script_does_to_random_or_decimal_does_not_reach_the_next(api):
    sandbox.shutdown()   # one worker runs both scripts, as a busy server's would
    ran(run(api, "state_set", "import decimal, random\ndecimal.setcontext(decimal.Context(prec=3))\n"
                              "decimal.DefaultContext.clear_traps()\ndecimal.ExtendedContext.clear_traps()\n"
                              "random.seed(7)\n"))
    assert len(sandbox.worker_pids()) == 1
    data = ran(run(api, "state_read", "import decimal, random\nthird = str(decimal.Decimal(1) / decimal.Decimal(3))\n"
                                      "traps = decimal.Context().traps[decimal.DivisionByZero]\n"
                                      "default = decimal.DefaultContext.traps[decimal.DivisionByZero]\n"
                                      "draw = random.random()\n"))
    assert len(sandbox.worker_pids()) == 1, "the same worker ran both"
    assert data["third"] == "0.3333333333333333333333333333", "the default precision, not the other script's"
    assert data["traps"] is True and data["default"] is True
    assert data["draw"] != random.Random(7).random(), "not the sequence the other script seeded"


def test_print_runs_in_a_script_and_its_output_stays_in_the_worker(api):
    script = ("print('starting', amount)\nprint('no newline', end='', flush=True)\nprint('x', file=None)\n"
              "for i in range(300):\n    print('y' * 1000)\nkept = len(printed)\nhead = printed[:20]\ndone = True\n")
    data = ran(run(api, "printing", script))
    assert data["done"] is True and data["kept"] == MAX_PRINTED, "bounded: the rest is dropped"
    assert data["head"] == "starting 5\nno newlin"
    assert "printed" not in data and not any(key.startswith("_") for key in data)
    # the worker's protocol channel is intact: the next script in the same worker answers as usual
    assert ran(run(api, "printing_after", "total = amount + 1\n"))["total"] == 6


def branch_diagram(key, condition):
    """start (form: amount) → gateway: `condition` leads to Task_yes, the default to Task_no."""
    def task(name, flow):
        return (f'    <bpmn:userTask id="Task_{name}" name="{name}"><bpmn:incoming>{flow}</bpmn:incoming>'
                f'<bpmn:outgoing>Flow_{name}_end</bpmn:outgoing></bpmn:userTask>\n'
                f'    <bpmn:endEvent id="End_{name}"><bpmn:incoming>Flow_{name}_end</bpmn:incoming></bpmn:endEvent>\n'
                f'    <bpmn:sequenceFlow id="Flow_{name}_end" sourceRef="Task_{name}" targetRef="End_{name}" />\n')
    return (DECL + f'<bpmn:definitions {NS}>\n'
            f'  <bpmn:process id="{key}" name="{key}" isExecutable="true">\n'
            f'    <bpmn:startEvent id="StartEvent_1">{START_FORM}<bpmn:outgoing>Flow_in</bpmn:outgoing></bpmn:startEvent>\n'
            '    <bpmn:exclusiveGateway id="Gateway_1" default="Flow_no"><bpmn:incoming>Flow_in</bpmn:incoming>'
            '<bpmn:outgoing>Flow_yes</bpmn:outgoing><bpmn:outgoing>Flow_no</bpmn:outgoing></bpmn:exclusiveGateway>\n'
            '    <bpmn:sequenceFlow id="Flow_in" sourceRef="StartEvent_1" targetRef="Gateway_1" />\n'
            '    <bpmn:sequenceFlow id="Flow_yes" sourceRef="Gateway_1" targetRef="Task_yes">'
            f'<bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
            '    <bpmn:sequenceFlow id="Flow_no" sourceRef="Gateway_1" targetRef="Task_no" />\n'
            + task("yes", "Flow_yes") + task("no", "Flow_no") +
            '  </bpmn:process>\n</bpmn:definitions>\n').encode()


@pytest.mark.parametrize("amount, branch", [(5, "Task_yes"), (1, "Task_no")])
def test_print_in_a_condition_runs_and_the_condition_still_decides(api, amount, branch):
    assert api["ed"].deploy(("branch.bpmn", branch_diagram("branch", "print('checking', amount) or amount > 3"))) \
        .status_code == 201
    instance = api["mia"].post("/processes/branch/instances", json={"data": {"amount": amount}}).get_json()
    assert instance["incident"] is None, instance
    assert [t["element_id"] for t in instance["tasks"]] == [branch]


def test_locals_gives_the_scripts_variables_and_nothing_else(api):
    script = ("import math\nfrom json import dumps\ntotal = amount * 2\nlabel = 'x'\n"
              "seen = locals()\nnames = sorted(seen)\nvalue = seen['total']\n")
    data = ran(run(api, "locals_seen", script))
    assert data["names"] == ["amount", "label", "total"], "data and assignments: no modules, helpers, guards"
    assert data["value"] == 10
    assert data["seen"] == {"amount": 5, "total": 10, "label": "x"}
