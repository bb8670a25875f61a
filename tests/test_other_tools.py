"""Files from Camunda Modeler and SpiffArena run as their authors meant (issue 24): call activity
data mappings, link events, and plain-worded refusals at deploy of what the engine cannot run."""
import json

from conftest import diagram

from engine import definitions


def start(api, key, data):
    reply = api["mia"].post(f"/processes/{key}/instances", json={"data": data})
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()


def refusal(api, filename, xml):
    reply = api["ed"].deploy((filename, xml.encode()))
    assert reply.status_code == 422, reply.get_json()
    return reply.get_json()["errors"]


# ---------------------------------------------------------------------------------------------
# Call activities


def test_call_activity_passes_only_what_its_camunda_mappings_name(api):
    assert api["ed"].deploy("brief_with_copy.bpmn", "write_copy.bpmn").status_code == 201
    instance = start(api, "brief_with_copy", {"title": "Spring sale", "budget": 50, "channel": "email"})
    assert instance["status"] == "running", instance
    data = instance["data"]
    assert data["approved_copy"] == "Spring sale (email, 100)"     # in: source, sourceExpression, local; out
    assert "scratch" not in data and "copy" not in data and "headline" not in data   # child scratch stays there
    assert data["title"] == "Spring sale" and data["budget"] == 50


def test_call_activity_with_all_variables_copies_both_ways(api):
    assert api["ed"].deploy("copy_everything.bpmn", "write_copy.bpmn").status_code == 201
    instance = start(api, "copy_everything", {"headline": "Launch", "allowance": 3, "channel": "web"})
    assert instance["status"] == "completed", instance
    assert instance["data"]["copy"] == "Launch (web, 3)" and instance["data"]["scratch"]


def test_a_called_process_is_found_among_the_processes_deployed_before(api):
    assert api["ed"].deploy("write_copy.bpmn").status_code == 201
    deployed = api["ed"].deploy("brief_with_copy.bpmn")
    assert deployed.status_code == 201 and deployed.get_json()["warnings"] == [], deployed.get_json()
    assert deployed.get_json()["files"] == ["brief_with_copy.bpmn"]
    assert [p["key"] for p in deployed.get_json()["processes"]] == ["brief_with_copy"]   # no new write_copy version
    definitions._BUNDLES.clear()          # as after a restart: the called diagram was kept with the caller
    instance = start(api, "brief_with_copy", {"title": "Spring sale", "budget": 50, "channel": "email"})
    assert instance["data"]["approved_copy"] == "Spring sale (email, 100)", instance


def test_a_process_called_but_deployed_nowhere_is_a_warning_then_an_incident(api):
    deployed = api["ed"].deploy("calls_nowhere.bpmn")
    assert deployed.status_code == 201, deployed.get_json()
    [warning] = deployed.get_json()["warnings"]
    assert warning["element_id"] == "Call_1" and "does_not_exist" in warning["message"], warning
    instance = start(api, "hostile", {})
    assert instance["status"] == "failed", instance
    assert instance["incident"]["element_id"] == "Call_1" and "does_not_exist" in instance["incident"]["message"]


def test_a_call_activity_expression_that_does_not_compile_is_refused_at_deploy(api):
    xml = diagram("brief_with_copy.bpmn").decode().replace("${budget * 2}", "${budget * }")
    errors = refusal(api, "brief_with_copy.bpmn", xml)
    assert any(e["element_id"] == "Call_copy" and e["message"].startswith("Data passed in: does not compile") for e in errors), errors


# ---------------------------------------------------------------------------------------------
# Link events


def test_a_link_event_jumps_to_its_catching_link(api):
    assert api["ed"].deploy("link_jump.bpmn").status_code == 201
    instance = start(api, "link_jump", {})
    assert [t["element_id"] for t in instance["tasks"]] == ["Task_review"], instance
    done = api["walt"].post(f"/tasks/{instance['tasks'][0]['id']}/complete", json={"data": {}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed", done.get_json()


def test_a_link_with_no_catching_link_is_refused_at_deploy(api):
    xml = diagram("link_jump.bpmn").decode().replace('id="Link_catch" name="review"', 'id="Link_catch" name="revue"')
    errors = refusal(api, "link_jump.bpmn", xml)
    assert [(e["element_id"], e["message"]) for e in errors] == [
        ("Throw_to_review", "link event 'review' has no catching link event of that name in the same process level")]


# ---------------------------------------------------------------------------------------------
# What cannot run is refused in plain words


PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="http://x">
  {before}
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="X" />
    {element}
    <bpmn:sequenceFlow id="F2" sourceRef="X" targetRef="E" />
    <bpmn:endEvent id="E" />
    {after}
  </bpmn:process>
</bpmn:definitions>"""


def test_compensation_is_refused_in_plain_words(api):
    xml = PROCESS.format(before="", element="""<bpmn:task id="X" name="Book the ad" />
    <bpmn:boundaryEvent id="Undo" attachedToRef="X"><bpmn:compensateEventDefinition id="CE" /></bpmn:boundaryEvent>
    <bpmn:task id="Cancel_ad" name="Cancel the ad" isForCompensation="true" />""",
                         after='<bpmn:association id="A1" associationDirection="One" sourceRef="Undo" targetRef="Cancel_ad" />')
    errors = refusal(api, "compensation.bpmn", xml)
    assert {e["element_id"] for e in errors} == {"Undo", "Cancel_ad"}, errors
    assert all("compensation" in e["message"] and "<" not in e["message"] for e in errors), errors


def test_a_message_catch_with_no_name_is_refused_at_deploy(api):
    xml = PROCESS.format(after="", before='<bpmn:message id="Msg_1" />', element="""<bpmn:intermediateCatchEvent id="X">
      <bpmn:messageEventDefinition id="MD" messageRef="Msg_1" /></bpmn:intermediateCatchEvent>""")
    errors = refusal(api, "nameless.bpmn", xml)
    assert [(e["element_id"], e["message"]) for e in errors] == [
        ("X", "the message 'Msg_1' this event uses has no name: give the message a name")]


def test_a_signal_catch_naming_no_signal_is_refused_at_deploy(api):
    xml = PROCESS.format(after="", before="", element="""<bpmn:intermediateCatchEvent id="X">
      <bpmn:signalEventDefinition id="SD" /></bpmn:intermediateCatchEvent>""")
    errors = refusal(api, "nameless.bpmn", xml)
    assert [e["element_id"] for e in errors] == ["X"] and "names no signal" in errors[0]["message"]


def test_a_script_in_another_language_is_refused_naming_the_language(api):
    xml = PROCESS.format(after="", before="", element="""<bpmn:scriptTask id="X" scriptFormat="javascript">
      <bpmn:script>total = 1 + 2</bpmn:script></bpmn:scriptTask>""")
    errors = refusal(api, "javascript.bpmn", xml)
    assert [e["element_id"] for e in errors] == ["X"] and "written in javascript" in errors[0]["message"]


def test_what_cannot_run_may_still_be_kept_as_a_model(api):
    xml = PROCESS.format(after="", before="", element="""<bpmn:scriptTask id="X" scriptFormat="groovy">
      <bpmn:script>total = 1 + 2</bpmn:script></bpmn:scriptTask>""")
    kept = api["ed"].deploy(("groovy.bpmn", xml.encode()), as_model=True)
    assert kept.status_code == 201 and kept.get_json()["processes"][0]["executable"] is False


# ---------------------------------------------------------------------------------------------
# DMN: hit policies, aggregations, result variables, several decisions per file


def test_decision_tables_follow_their_hit_policies_and_result_variable(api):
    deployed = api["ed"].deploy("spend_check.bpmn", "spend_rules.dmn")     # four decisions in one .dmn file
    assert deployed.status_code == 201, deployed.get_json()
    data = start(api, "spend_check", {"budget": 2000, "channels": "email social"})["data"]
    assert data["total_cost"] == 350                        # COLLECT SUM of the matching rules
    assert data["checks"] == ["legal", "brand"]             # RULE ORDER: every match, in rule order
    assert data["approval"] == {"approver": "team lead"}    # resultVariable, singleResult; Tier is required first
    assert "approver" not in data and "tier" not in data
    assert start(api, "spend_check", {"budget": 10, "channels": "print"})["data"]["checks"] == ["brand"]


def test_a_violated_unique_hit_policy_is_an_incident(api):
    assert api["ed"].deploy("spend_check.bpmn", "spend_rules.dmn").status_code == 201
    instance = start(api, "spend_check", {"budget": 5000, "channels": "email"})
    assert instance["status"] == "failed", instance
    assert instance["incident"]["element_id"] == "Rule_approver"
    assert "UNIQUE" in instance["incident"]["message"] and "Tier_small, Tier_large" in instance["incident"]["message"]


# ---------------------------------------------------------------------------------------------
# Multi-instance


def test_each_item_of_a_multi_instance_task_is_named_carried_and_collected(api):
    assert api["ed"].deploy("channel_reviews.bpmn").status_code == 201
    instance = start(api, "channel_reviews", {"channels": ["email", "social"]})    # a list as start data
    reviews = sorted(api["walt"].get("/tasks").get_json(), key=lambda t: t["name"])
    assert [(t["name"], t["item"]) for t in reviews] == [("Review email", "email"), ("Review social", "social")]
    for review in reversed(reviews):              # finished in the other order: results keep the items' order
        done = api["walt"].post(f"/tasks/{review['id']}/complete", json={"data": {"verdict": f"{review['item']} ok"}})
        assert done.status_code == 200, done.get_json()
    data = api["walt"].get(f"/instances/{instance['id']}").get_json()["data"]
    assert data["channels"] == ["email", "social"]
    assert data["channels_results"] == [{"channel": "email", "verdict": "email ok"},
                                        {"channel": "social", "verdict": "social ok"}]


def test_start_data_still_refuses_what_is_neither_a_field_nor_a_collection(api):
    assert api["ed"].deploy("channel_reviews.bpmn").status_code == 201
    refused = api["mia"].post("/processes/channel_reviews/instances", json={"data": {"channels": "email", "x": 1}})
    assert refused.status_code == 422, refused.get_json()
    assert {e["field"] for e in refused.get_json()["errors"]} == {"channels", "x"}


# ---------------------------------------------------------------------------------------------
# Events


def test_a_message_no_instance_waits_for_starts_the_process_it_starts(api):
    assert api["ed"].deploy("download_follow_up.bpmn").status_code == 201
    sent = api["admin"].post("/messages", json={"name": "ebook_downloaded", "correlation": {"email": "anna@x.example"},
                                                "data": {"pages_read": 12}})
    assert sent.status_code == 200, sent.get_json()
    [instance_id] = sent.get_json()["delivered_to"]
    instance = api["admin"].get(f"/instances/{instance_id}").get_json()
    assert instance["data"]["pages_read"] == 12 and instance["data"]["email"] == "anna@x.example"
    assert [t["element_id"] for t in instance["tasks"]] == ["Task_call"]
    again = api["admin"].post("/messages", json={"name": "ebook_downloaded", "data": {"pages_read": 3}})
    assert again.status_code == 200 and again.get_json()["delivered_to"] != [instance_id]    # one instance per message


def test_a_message_nothing_waits_for_or_starts_is_still_not_found(api):
    assert api["ed"].deploy("download_follow_up.bpmn").status_code == 201
    reply = api["admin"].post("/messages", json={"name": "webinar_booked", "data": {}})
    assert reply.status_code == 404, reply.get_json()


def test_a_signal_one_instance_throws_reaches_the_instances_waiting_elsewhere(api):
    assert api["ed"].deploy("announce_launch.bpmn").status_code == 201
    assert api["ed"].deploy("wait_for_launch.bpmn").status_code == 201
    waiting = [start(api, "wait_for_launch", {})["id"] for _ in range(2)]
    thrower = start(api, "announce_launch", {})
    done = api["walt"].post(f"/tasks/{thrower['tasks'][0]['id']}/complete", json={"data": {}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed", done.get_json()
    for instance_id in waiting:
        instance = api["admin"].get(f"/instances/{instance_id}").get_json()
        assert [t["element_id"] for t in instance["tasks"]] == ["Task_post"], instance
    history = api["admin"].get(f"/instances/{waiting[0]}/history").get_json()
    assert any(e["type"] == "signal_received" and e["element_id"] == "Catch_live" for e in history), history


def test_event_subprocesses_start_on_their_message_or_signal_and_an_interrupting_one_ends_the_rest(api):
    assert api["ed"].deploy("cancellable_campaign.bpmn").status_code == 201
    instance = start(api, "cancellable_campaign", {})
    frozen = api["admin"].post("/signals", json={"name": "budget_frozen", "data": {}})     # non-interrupting
    assert frozen.status_code == 200 and frozen.get_json()["delivered_to"] == [instance["id"]], frozen.get_json()
    shown = api["admin"].get(f"/instances/{instance['id']}").get_json()
    assert sorted(t["element_id"] for t in shown["tasks"]) == ["Task_tell", "Task_write"], shown
    cancelled = api["admin"].post("/messages", json={"name": "campaign_cancelled", "data": {"why": "budget cut"}})
    assert cancelled.status_code == 200 and cancelled.get_json()["delivered_to"] == [instance["id"]]
    shown = api["admin"].get(f"/instances/{instance['id']}").get_json()
    assert [t["element_id"] for t in shown["tasks"]] == ["Task_tidy"], shown      # the rest was cancelled
    done = api["walt"].post(f"/tasks/{shown['tasks'][0]['id']}/complete", json={"data": {}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed", done.get_json()
    assert done.get_json()["data"]["why"] == "budget cut"


# ---------------------------------------------------------------------------------------------
# Acceptance of what the authoring tools write


def test_a_spiffarena_process_without_is_executable_runs_and_its_schema_slips_are_warnings(api):
    deployed = api["ed"].deploy("spiff_follow_up.bpmn")
    assert deployed.status_code == 201, deployed.get_json()
    body = deployed.get_json()
    assert body["dialect"] == "spiff" and body["processes"][0]["executable"] is True
    assert [(w["element_id"], w["message"]) for w in body["warnings"]] == [
        ("Esc_late", "the BPMN schema has no errorCode on escalation; Baton ignores it"),
        ("Start_spiff", "the BPMN schema has no messageRef on startEvent; Baton ignores it")]
    instance = start(api, "spiff_follow_up", {})
    assert instance["data"]["follow_up"] == "call in 6 days" and instance["tasks"][0]["element_id"] == "Task_call"


def test_a_plain_process_without_is_executable_stays_a_model(api):
    xml = diagram("link_jump.bpmn").replace(b' isExecutable="true"', b"")
    kept = api["ed"].deploy(("plain.bpmn", xml), as_model=True)
    assert kept.status_code == 201 and kept.get_json()["processes"][0]["executable"] is False


def test_a_textarea_field_takes_several_lines(api):
    xml = diagram("brief_with_copy.bpmn").replace(b'id="title" label="Title" type="string"',
                                                  b'id="title" label="Title" type="textarea"')
    assert api["ed"].deploy(("brief_textarea.bpmn", xml), "write_copy.bpmn").status_code == 201
    instance = start(api, "brief_with_copy", {"title": "Spring\nsale", "budget": 1, "channel": "web"})
    assert instance["data"]["title"] == "Spring\nsale"


def test_print_in_a_script_runs_and_shows_nowhere(api):
    xml = diagram("write_copy.bpmn").replace(b'scratch = "notes only the writer needs"',
                                             b'print("drafting for", channel)\nscratch = "notes"')
    assert api["ed"].deploy(("brief_with_copy.bpmn", diagram("brief_with_copy.bpmn")),
                            ("write_copy.bpmn", xml)).status_code == 201
    instance = start(api, "brief_with_copy", {"title": "Spring sale", "budget": 50, "channel": "email"})
    assert instance["status"] == "running" and instance["data"]["approved_copy"] == "Spring sale (email, 100)"


def test_steps_for_people_or_roles_baton_does_not_know_deploy_with_a_warning_each(api):
    """A Camunda file hands a step to `demo` and another to the group `sales`, neither known here: each is
    named in a warning (nobody but admins would see those tasks), while a known role and an expression
    pass without one."""
    steps = [('Task_demo', 'camunda:assignee="demo"'), ('Task_sales', 'camunda:candidateGroups="sales"'),
             ('Task_writer', 'camunda:candidateGroups="Writer"'), ('Task_starter', 'camunda:assignee="${initiator}"')]
    tasks_xml = "".join(f'<bpmn:userTask id="{i}" name="{i[5:]}" {a} />' for i, a in steps)
    flows = "".join(f'<bpmn:sequenceFlow id="F{n}" sourceRef="{a}" targetRef="{b}" />' for n, (a, b) in enumerate(
        zip(["Start_1", *[i for i, _ in steps]], [*[i for i, _ in steps], "End_1"])))
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="Defs_people" targetNamespace="http://baton.test">
  <bpmn:process id="unknown_people" isExecutable="true">
    <bpmn:startEvent id="Start_1" />{tasks_xml}<bpmn:endEvent id="End_1" />{flows}
  </bpmn:process>
</bpmn:definitions>""".encode()
    deployed = api["ed"].deploy(("people.bpmn", xml))
    assert deployed.status_code == 201, deployed.get_json()
    warned = {w["element_id"]: w["message"] for w in deployed.get_json()["warnings"]}
    assert set(warned) == {"Task_demo", "Task_sales"}, warned
    assert "'demo', who is not a Baton user" in warned["Task_demo"]
    assert "role 'sales', which nobody holds yet" in warned["Task_sales"]


def _script_run(api, key, script, data=None):
    from test_security_sandbox import script_diagram
    deployed = api["ed"].deploy((f"{key}.bpmn", script_diagram(key, script)))
    return deployed, (start(api, key, {"amount": 5, **(data or {})}) if deployed.status_code == 201 else None)


def test_scripts_import_the_harmless_modules_other_tools_scripts_use(api):
    """SpiffArena and Camunda scripts import datetime, decimal, json, math, random and re, and read
    locals(): they run as written, and what they compute is kept as data."""
    script = ("import math\nimport json as j\nfrom datetime import timedelta\nimport decimal, random, re\n"
              "root = math.sqrt(amount * 20)\npayload = j.dumps({'amount': amount})\n"
              "price = decimal.Decimal('19.99') * 2\nslug = re.sub(r'[^a-z]+', '-', 'Spring Sale!'.lower())\n"
              "roll = random.randint(1, 6)\nlater = timedelta(days=2).days\nseen = sorted(locals())\n")
    deployed, instance = _script_run(api, "imports_ok", script)
    assert deployed.status_code == 201, deployed.get_json()
    data = instance["data"]
    assert instance["status"] == "running", instance
    assert (data["root"], data["payload"], data["price"], data["slug"], data["later"]) == \
        (10.0, '{"amount": 5}', 39.98, "spring-sale-", 2)
    assert 1 <= data["roll"] <= 6
    assert data["seen"] == ["amount", "later", "payload", "price", "roll", "root", "slug"], \
        "locals() is the script's variables: no modules, helpers or guards"
    assert not {"math", "j", "decimal", "random", "re", "timedelta"} & set(data), "imports are not data"


def test_any_other_import_is_refused_at_deploy_naming_the_module_and_the_allowed_ones(api):
    for index, script in enumerate(("import os", "from subprocess import run", "import json.decoder",
                                    "import importlib", "from . import helpers")):
        deployed, _ = _script_run(api, f"imports_bad_{index}", f"{script}\nx = 1")
        assert deployed.status_code == 422, script
        problem = deployed.get_json()["errors"][0]
        assert problem["element_id"] == "Script_payload"
        if "relative" in problem["message"]:
            continue
        name = script.split()[1]
        assert f"import of {name!r} is not allowed in diagram code; it may import datetime, decimal, json, " \
               "math, random, re" in problem["message"]


def test_the_allowed_modules_lead_nowhere_else_and_a_runaway_pattern_is_stopped(api):
    """No path from an allowed module to another module, and a catastrophic regular expression is ended
    by the sandbox's time limit (the worker, not the web process, pays for it)."""
    _, instance = _script_run(api, "imports_escape", "import json, datetime\nleaks = [json.decoder, json.scanner, "
                                                     "datetime.sys]\n")
    assert instance["data"]["leaks"] == [None, None, None]
    _, failed = _script_run(api, "imports_from_sub", "from json import decoder\n")
    assert failed["status"] == "failed" and "decoder" in failed["incident"]["message"]
    _, slow = _script_run(api, "imports_redos", "import re\nhit = re.match(r'(a+)+$', 'a' * 40 + 'b')\n")
    assert slow["status"] == "failed" and "ran longer than" in slow["incident"]["message"]
    _, fine = _script_run(api, "imports_after", "import re\nok = bool(re.match(r'a+', 'aaa'))\n")
    assert fine["data"]["ok"] is True, "a fresh worker took over"


def _form_diagram(key, task_attributes="", extension=""):
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_{key}" targetNamespace="http://baton.test">
  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    <bpmn:startEvent id="Start_{key}" />
    <bpmn:userTask id="Task_form" name="Fill in the brief" {task_attributes}>{extension}</bpmn:userTask>
    <bpmn:exclusiveGateway id="Gate_{key}" default="F_small" />
    <bpmn:endEvent id="End_big" /><bpmn:endEvent id="End_small" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start_{key}" targetRef="Task_form" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_form" targetRef="Gate_{key}" />
    <bpmn:sequenceFlow id="F_big" sourceRef="Gate_{key}" targetRef="End_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">budget &gt; 1000</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_small" sourceRef="Gate_{key}" targetRef="End_small" />
  </bpmn:process>
</bpmn:definitions>""".encode()


CAMUNDA_FORM = {"id": "brief_form", "type": "default", "schemaVersion": 16, "components": [
    {"type": "text", "text": "# The brief"},
    {"type": "textfield", "key": "title", "label": "Title", "validate": {"required": True, "maxLength": 40}},
    {"type": "number", "key": "budget", "label": "Budget", "validate": {"min": 0, "max": 100000}},
    {"type": "select", "key": "channel", "label": "Channel",
     "values": [{"label": "E-mail", "value": "email"}, {"label": "Social", "value": "social"}]},
    {"type": "checkbox", "key": "urgent", "label": "Urgent"},
    {"type": "datetime", "subtype": "date", "key": "publish_on", "label": "Publish on"},
    {"type": "taglist", "key": "tags", "label": "Tags", "values": []},
    {"type": "button", "key": "submit", "label": "Submit"}]}
SPIFF_SCHEMA = {"title": "Brief", "type": "object", "required": ["title", "budget"], "properties": {
    "title": {"type": "string", "title": "Title", "maxLength": 40},
    "budget": {"type": "integer", "title": "Budget", "minimum": 0},
    "notes": {"type": "string", "title": "Notes"},
    "channel": {"type": "string", "title": "Channel", "oneOf": [{"const": "email", "title": "E-mail"},
                                                               {"const": "social", "title": "Social"}]},
    "when": {"type": "string", "format": "date", "title": "When"},
    "links": {"type": "array", "items": {"type": "string"}}}}
SPIFF_UI = {"ui:order": ["budget", "title"], "notes": {"ui:widget": "textarea"}}
EMBEDDED_HTML = b"""<form role="form" name="brief">
  <label for="t">Title</label><input id="t" type="text" cam-variable-name="title" cam-variable-type="String" required maxlength="40">
  <label for="b">Budget</label><input id="b" type="number" cam-variable-name="budget" cam-variable-type="Long">
  <label for="u">Urgent</label><input id="u" type="checkbox" cam-variable-name="urgent" cam-variable-type="Boolean">
  <select cam-variable-name="channel" cam-variable-type="String"><option value="email">E-mail</option><option value="social">Social</option></select>
</form>"""


def _form_of(api, key):
    task = next(t for t in api["admin"].get("/tasks").get_json() if t["process_key"] == key)
    return task, {f["id"]: f for f in task["form"]}


def test_a_camunda_form_uploaded_with_the_diagram_is_the_steps_form_checked_by_the_server(api):
    deployed = api["ed"].deploy(("brief.bpmn", _form_diagram("camunda_form_brief", 'camunda:formRef="brief_form"')),
                                ("brief.form", json.dumps(CAMUNDA_FORM).encode()))
    assert deployed.status_code == 201, deployed.get_json()
    assert [w["message"] for w in deployed.get_json()["warnings"] if w["element_id"] == "Task_form"] == \
        ["form 'brief_form': field 'tags' is a taglist, which Baton does not show yet"]
    start(api, "camunda_form_brief", {})
    task, form = _form_of(api, "camunda_form_brief")
    assert list(form) == ["title", "budget", "channel", "urgent", "publish_on"]
    assert (form["title"]["required"], form["title"]["maxlength"], form["budget"]["type"], form["budget"]["max"]) == \
        (True, "40", "long", "100000")
    assert form["channel"]["values"] == [{"id": "email", "name": "E-mail"}, {"id": "social", "name": "Social"}]
    assert (form["urgent"]["type"], form["publish_on"]["type"]) == ("boolean", "date")
    refused = api["admin"].post(f"/tasks/{task['id']}/complete", json={"data": {"budget": -1, "channel": "print"}})
    assert {e["field"]: e["message"] for e in refused.get_json()["errors"]} == {
        "title": "is required", "budget": "must be at least 0", "channel": "must be one of email, social"}
    done = api["admin"].post(f"/tasks/{task['id']}/complete",
                             json={"data": {"title": "Spring", "budget": 5000, "channel": "email"}})
    assert done.get_json()["status"] == "completed", "the gateway read the form's budget"


def test_a_spiffarena_json_schema_form_with_its_ui_schema_is_the_steps_form(api):
    extension = ('<bpmn:extensionElements><spiffworkflow:properties>'
                 '<spiffworkflow:property name="formJsonSchemaFilename" value="brief-schema.json" />'
                 '<spiffworkflow:property name="formUiSchemaFilename" value="brief-uischema.json" />'
                 '</spiffworkflow:properties></bpmn:extensionElements>')
    deployed = api["ed"].deploy(("brief.bpmn", _form_diagram("spiff_form_brief", extension=extension)),
                                ("brief-schema.json", json.dumps(SPIFF_SCHEMA).encode()),
                                ("brief-uischema.json", json.dumps(SPIFF_UI).encode()))
    assert deployed.status_code == 201, deployed.get_json()
    assert "field 'links' is a array" in " ".join(w["message"] for w in deployed.get_json()["warnings"])
    start(api, "spiff_form_brief", {})
    task, form = _form_of(api, "spiff_form_brief")
    assert list(form) == ["budget", "title", "notes", "channel", "when"], "ui:order first, then the rest"
    assert (form["budget"]["required"], form["budget"]["min"], form["notes"]["type"], form["when"]["type"]) == \
        (True, "0", "textarea", "date")
    assert form["channel"]["values"][0] == {"id": "email", "name": "E-mail"}
    refused = api["admin"].post(f"/tasks/{task['id']}/complete", json={"data": {"title": "x" * 41}})
    assert {e["field"] for e in refused.get_json()["errors"]} == {"title", "budget"}
    done = api["admin"].post(f"/tasks/{task['id']}/complete", json={"data": {"title": "Spring", "budget": 10}})
    assert done.get_json()["status"] == "completed", "no NameError at the gateway: budget is data"


def test_an_embedded_html_form_is_read_from_its_cam_variables_and_a_missing_form_is_a_warning(api):
    deployed = api["ed"].deploy(("brief.bpmn", _form_diagram("html_form_brief",
                                                             'camunda:formKey="embedded:app:forms/brief.html"')),
                                ("brief.html", EMBEDDED_HTML))
    assert deployed.status_code == 201, deployed.get_json()
    start(api, "html_form_brief", {})
    _, form = _form_of(api, "html_form_brief")
    assert [(f["id"], f["type"], f["label"]) for f in form.values()] == [
        ("title", "string", "Title"), ("budget", "long", "Budget"), ("urgent", "boolean", "Urgent"),
        ("channel", "enum", "channel")]
    assert form["title"]["required"] and form["title"]["maxlength"] == "40"

    missing = api["ed"].deploy(("other.bpmn", _form_diagram("missing_form", 'camunda:formRef="nowhere"')))
    assert missing.status_code == 201
    assert {"element_id": "Task_form",
            "message": "uses form 'nowhere', which is not in this upload: upload it with the diagram, or the step "
                       "shows no form"}.items() <= missing.get_json()["warnings"][0].items()


ASSIGNED_FROM_DATA = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="Defs_people_data" targetNamespace="http://baton.test">
  <bpmn:process id="people_from_data" isExecutable="true">
    <bpmn:startEvent id="Start_1" camunda:initiator="starter"><bpmn:extensionElements><camunda:formData>
      <camunda:formField id="approver" label="Approver" type="string" />
      <camunda:formField id="reviewerList" label="Reviewers" type="string" />
    </camunda:formData></bpmn:extensionElements></bpmn:startEvent>
    <bpmn:userTask id="Task_approve" name="Approve" camunda:assignee="${approver}" />
    <bpmn:userTask id="Task_review" name="Review" camunda:candidateUsers="${reviewerList}" />
    <bpmn:userTask id="Task_back" name="Back to the starter" camunda:assignee="${starter}" />
    <bpmn:endEvent id="End_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start_1" targetRef="Task_approve" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_approve" targetRef="Task_review" />
    <bpmn:sequenceFlow id="F3" sourceRef="Task_review" targetRef="Task_back" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_back" targetRef="End_1" />
  </bpmn:process>
</bpmn:definitions>"""


def _open_for(api, who, key):
    return [t["element_id"] for t in api[who].get("/tasks").get_json() if t["process_key"] == key]


def test_camunda_assignees_and_candidate_users_read_from_the_data_and_the_initiator(api):
    deployed = api["ed"].deploy(("people.bpmn", ASSIGNED_FROM_DATA))
    assert deployed.status_code == 201 and deployed.get_json()["warnings"] == [], deployed.get_json()
    instance = start(api, "people_from_data", {"approver": "Dora"})
    assert instance["data"]["starter"] == "mia", "camunda:initiator names who started it"
    assert _open_for(api, "dora", "people_from_data") == ["Task_approve"]
    assert _open_for(api, "walt", "people_from_data") == []
    task = api["dora"].get("/tasks").get_json()[0]
    assert task["assignee"] == "dora"
    # the reviewers are not in the data yet: the step stays with admins and the history says why
    assert api["dora"].post(f"/tasks/{task['id']}/complete", json={"data": {}}).status_code == 200
    assert _open_for(api, "walt", "people_from_data") == []
    (review,) = [t for t in api["admin"].get("/tasks").get_json() if t["element_id"] == "Task_review"]
    history = api["admin"].get(f"/instances/{instance['id']}/history").get_json()
    assert any(e["type"] == "assignment_error" and "reviewerList" in e["data"]["message"] for e in history)
    api["admin"].post(f"/tasks/{review['id']}/complete", json={"data": {}})
    assert _open_for(api, "mia", "people_from_data") == ["Task_back"], "${starter} hands it back to mia"
    assert api["mia"].get("/tasks").get_json()[0]["assignee"] == "mia"

    second = start(api, "people_from_data", {"approver": "dora", "reviewerList": "Walt, Wendy"})
    (approve,) = [t for t in api["dora"].get("/tasks").get_json() if t["instance_id"] == second["id"]]
    api["dora"].post(f"/tasks/{approve['id']}/complete", json={"data": {}})
    assert _open_for(api, "walt", "people_from_data") == _open_for(api, "wendy", "people_from_data") == ["Task_review"]
    assert _open_for(api, "dora", "people_from_data") == [], "the reviewers named in the data, no one else"


def test_an_assignee_expression_that_does_not_compile_is_refused_at_deploy(api):
    refused = api["ed"].deploy(("people.bpmn", ASSIGNED_FROM_DATA.replace(b"${approver}", b"${approver ==}")))
    assert refused.status_code == 422
    problem = refused.get_json()["errors"][0]
    assert problem["element_id"] == "Task_approve" and problem["message"].startswith("Assignee: does not compile")


def _spiff_lanes(lanes):
    lane_xml = "".join(f'<bpmn:lane id="Lane_{n}" name="{n}"><bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef></bpmn:lane>'
                       for n, ref in lanes)
    lane_set = f'<bpmn:laneSet id="Lanes">{lane_xml}</bpmn:laneSet>' if lanes else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_spiff_people" targetNamespace="http://baton.test">
  <bpmn:process id="spiff_people" isExecutable="true">{lane_set}
    <bpmn:startEvent id="Start_1" />
    <bpmn:scriptTask id="Script_owners"><bpmn:script>lane_owners = {{"Finance": ["dora"]}}</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="Task_pay" name="Pay the invoice"><bpmn:extensionElements>
      <spiffworkflow:instructionsForEndUser>Pay it</spiffworkflow:instructionsForEndUser></bpmn:extensionElements></bpmn:userTask>
    <bpmn:endEvent id="End_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start_1" targetRef="Script_owners" />
    <bpmn:sequenceFlow id="F2" sourceRef="Script_owners" targetRef="Task_pay" />
    <bpmn:sequenceFlow id="F3" sourceRef="Task_pay" targetRef="End_1" />
  </bpmn:process>
</bpmn:definitions>""".encode()


def test_spiffarena_lanes_take_their_owners_from_lane_owners_and_a_step_in_no_lane_is_the_starters(api):
    lanes = [("Finance", "Task_pay"), ("Finance", "Start_1"), ("Finance", "Script_owners"), ("Finance", "End_1")]
    xml = _spiff_lanes(lanes).replace(b'</bpmn:flowNodeRef></bpmn:lane><bpmn:lane id="Lane_Finance" name="Finance">',
                                      b"</bpmn:flowNodeRef>")
    assert api["ed"].deploy(("spiff_people.bpmn", xml)).status_code == 201
    start(api, "spiff_people", {})
    assert _open_for(api, "dora", "spiff_people") == ["Task_pay"], "lane_owners names dora for Finance"
    assert _open_for(api, "walt", "spiff_people") == []

    assert api["ed"].deploy(("spiff_people.bpmn", _spiff_lanes([]))).status_code == 201
    start(api, "spiff_people", {})
    (task,) = [t for t in api["mia"].get("/tasks?tab=mine").get_json() if t["process_key"] == "spiff_people"]
    assert task["assignee"] == "mia", "outside any lane, SpiffArena gives the step to whoever started it"
    assert _open_for(api, "walt", "spiff_people") == []


def test_a_number_with_decimals_is_a_double_field_on_the_page_and_in_the_api(app, api):
    from test_pages import Browser
    form = {**CAMUNDA_FORM, "components": [
        {"type": "number", "key": "budget", "label": "Budget", "decimalDigits": 2, "validate": {"min": 0}}]}
    assert api["ed"].deploy(("brief.bpmn", _form_diagram("double_brief", 'camunda:formRef="brief_form"')),
                            ("brief.form", json.dumps(form).encode())).status_code == 201
    start(api, "double_brief", {})
    task, fields = _form_of(api, "double_brief")
    assert fields["budget"]["type"] == "double"
    page = Browser(app, "admin").get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'type="number" step="any"' in page and "A number, 0 or more." in page
    for bad, message in (("abc", "must be a number"), (-0.5, "must be at least 0"), ("1e400", "must be a number")):
        refused = api["admin"].post(f"/tasks/{task['id']}/complete", json={"data": {"budget": bad}})
        assert refused.get_json()["errors"] == [{"field": "budget", "message": message}], bad
    done = api["admin"].post(f"/tasks/{task['id']}/complete", json={"data": {"budget": "1499.99"}})
    assert done.get_json()["data"]["budget"] == 1499.99 and done.get_json()["status"] == "completed"
