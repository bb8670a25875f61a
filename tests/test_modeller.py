"""Diagrams from other tools: MIWG reference files import, come back byte-identical, and keep what
the engine cannot run as models; saving from the editor checks like deploy; versions diff."""
import re

import pytest
from conftest import MIWG, diagram
from lxml import html

RUNNABLE = {"C.1.0.bpmn", "C.9.1.bpmn"}   # the MIWG files whose executable processes SpiffWorkflow can run


def test_the_reference_files_are_there():
    assert len(MIWG) == 21, "tests/conformance/miwg must hold the 21 MIWG reference diagrams"


@pytest.mark.parametrize("path", MIWG, ids=lambda p: p.name)
def test_reference_diagram_imports_and_downloads_byte_identical(api, path):
    content = path.read_bytes()
    reply = api["ed"].deploy((path.name, content), as_model=True)
    assert reply.status_code == 201, reply.get_json()
    body = reply.get_json()
    assert api["ed"].get(f"/definitions/{body['id']}/xml").data == content
    executable = [p for p in body["processes"] if p["executable"]]
    assert bool(executable) == (path.name in RUNNABLE), body["problems"]
    if not executable and b'isExecutable="true"' in content:
        assert body["problems"] and all(p["message"] for p in body["problems"]), "the note says why it cannot run"


def test_an_unrunnable_diagram_is_refused_unless_kept_as_a_model(api):
    c11 = next(p for p in MIWG if p.name == "C.1.1.bpmn")
    refused = api["ed"].deploy(("C.1.1.bpmn", c11.read_bytes()))
    assert refused.status_code == 422
    assert any("Data Store" in e["message"] for e in refused.get_json()["errors"])
    assert api["ed"].get("/definitions").get_json() == []
    key = api["ed"].deploy(("C.1.1.bpmn", c11.read_bytes()), as_model=True).get_json()["processes"][0]["key"]
    started = api["ed"].post(f"/processes/{key}/instances", json={"data": {}})
    assert started.status_code == 409 and "model" in started.get_json()["errors"][0]["message"]


def login(client, username):
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": username, "password": "password-1", "csrf_token": token})
    return re.search(r'data-csrf-token="([^"]+)"', client.get("/modeller/new").text).group(1)


def test_saving_from_the_editor_checks_like_deploy(app, people):
    client = app.test_client()
    csrf = login(client, "ed")
    broken = diagram("campaign_review.bpmn").replace(b"approved == True", b"approved = = True")
    reply = client.post("/modeller/save?name=campaign", data=broken, content_type="application/xml",
                        headers={"X-CSRFToken": csrf})
    assert reply.status_code == 422
    (error,) = reply.get_json()["errors"]
    assert error["element_id"] == "Flow_approved" and error["message"].startswith("Condition: does not compile"), \
        "named as the panel names it"
    saved = client.post("/modeller/save?name=campaign", data=diagram("campaign_review.bpmn"),
                        content_type="application/xml", headers={"X-CSRFToken": csrf})
    assert saved.status_code == 201 and saved.get_json()["version"] == 1
    assert saved.get_json()["url"] == f"/modeller/{saved.get_json()['id']}"
    forged = client.post("/modeller/save?name=campaign", data=diagram("campaign_review.bpmn"),
                         content_type="application/xml")
    assert forged.status_code == 400, "no CSRF token, no save"

    walt = app.test_client()
    csrf = login(walt, "walt")
    assert walt.post("/modeller/save?name=x", data=diagram("campaign_review.bpmn"), content_type="application/xml",
                     headers={"X-CSRFToken": csrf}).status_code == 403


def test_version_diff_lists_added_removed_changed_and_moved(app, api, people):
    v1 = diagram("campaign_review.bpmn")
    v2 = (v1.replace(b'name="Write the copy"', b'name="Write the ad copy" camunda:assignee="walt"')
            .replace(b'<dc:Bounds x="530" y="395"', b'<dc:Bounds x="560" y="395"')
            .replace(b'approved == True', b'approved == True and budget &gt; 0')
            .replace(b'<bpmn:endEvent id="End_launched" name="Campaign launched">',
                     b'<bpmn:endEvent id="End_live" name="Campaign live">')
            .replace(b'targetRef="End_launched"', b'targetRef="End_live"')
            .replace(b'bpmnElement="End_launched"', b'bpmnElement="End_live"'))
    assert api["ed"].deploy(("campaign_review.bpmn", v1)).status_code == 201
    assert api["ed"].deploy(("campaign_review.bpmn", v2)).status_code == 201
    client = app.test_client()
    login(client, "ed")
    page = client.get("/modeller/processes/campaign_review/diff?from=1&to=2")
    assert page.status_code == 200
    tree = html.fromstring(page.data)

    def ids(kind):
        return [li.get("data-element-id") for li in tree.xpath(f'//section[@class="diff-{kind}"]//li')]
    assert ids("added") == ["End_live"] and ids("removed") == ["End_launched"]
    assert ids("changed") == ["Flow_approved", "Task_copy"]
    assert ids("moved") == ["Task_visuals"]
    assert "(Assignee, Name)" in tree.xpath('//li[@data-element-id="Task_copy"]')[0].text_content()
    assert client.get("/modeller/processes/campaign_review/diff?from=1&to=9").status_code == 404
