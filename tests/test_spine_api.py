"""The runtime spine through the HTTP API: deploy, start, three roles hand work to each other,
refusals change nothing, and a restart mid-instance loses nothing."""
from conftest import Api, diagram, make_app

from engine import definitions, workflow_cache


def task_of(api_client, element_id):
    found = [t for t in api_client.get("/tasks").get_json() if t["element_id"] == element_id]
    assert len(found) == 1, f"expected one open {element_id}, got {found}"
    return found[0]


def snapshot(api_client, instance_id):
    """What must not change when a request is refused: instance view and full history."""
    return (api_client.get(f"/instances/{instance_id}").get_json(),
            api_client.get(f"/instances/{instance_id}/history").get_json())


def start_campaign(api):
    assert api["ed"].deploy("campaign_review.bpmn").status_code == 201
    reply = api["mia"].post("/processes/campaign_review/instances",
                            json={"data": {"title": "Spring sale", "budget": 500}})
    assert reply.status_code == 201, reply.get_json()
    return reply.get_json()


def test_deploy_needs_the_modeller_role_and_versions_per_process(api):
    refused = api["walt"].deploy("campaign_review.bpmn")
    assert refused.status_code == 403 and "modeller" in refused.get_json()["errors"][0]["message"]
    assert api["ed"].get("/definitions").get_json() == []

    first = api["ed"].deploy("campaign_review.bpmn")
    assert first.status_code == 201
    body = first.get_json()
    assert body["version"] == 1
    assert body["processes"] == [{"key": "campaign_review", "name": "Campaign review", "executable": True,
                                  "version": 1}]
    again = api["ed"].deploy("campaign_review.bpmn")
    assert again.status_code == 200 and again.get_json()["id"] == body["id"], "identical bytes: no new version"

    changed = diagram("campaign_review.bpmn").replace(b'name="Write the copy"', b'name="Write the ad copy"')
    second = api["ed"].deploy(("campaign_review.bpmn", changed))
    assert second.status_code == 201 and second.get_json()["version"] == 2
    assert api["ed"].get(f"/definitions/{body['id']}/xml").data == diagram("campaign_review.bpmn")
    assert api["ed"].get(f"/definitions/{second.get_json()['id']}/xml").data == changed


def test_rejected_upload_lists_errors_and_stores_nothing(api):
    broken = diagram("campaign_review.bpmn").replace(b"approved == True", b"approved === True")
    reply = api["ed"].deploy(("broken.bpmn", broken))
    assert reply.status_code == 422
    errors = reply.get_json()["errors"]
    assert errors[0]["element_id"] == "Flow_approved" and errors[0]["line"] > 0
    assert errors[0]["message"].startswith("Condition: does not compile"), "named as the modeller panel names it"
    assert api["ed"].get("/definitions").get_json() == []


def test_three_roles_drive_the_campaign_to_completion(api):
    instance = start_campaign(api)
    iid = instance["id"]
    assert instance["status"] == "running" and instance["version"] == 1
    assert [t["element_id"] for t in instance["tasks"]] == ["Task_brief"]

    # each user sees exactly the tasks of their role
    assert [t["element_id"] for t in api["walt"].get("/tasks").get_json()] == ["Task_brief"]
    assert api["dora"].get("/tasks").get_json() == []
    assert api["mia"].get("/tasks?tab=roles").get_json() == []
    assert [t["element_id"] for t in api["mia"].get("/tasks").get_json()] == ["Task_brief"], \
        "mia holds the manager role: her All tab shows every open task"
    brief = task_of(api["walt"], "Task_brief")
    assert brief["roles"] == ["writer"] and brief["process_key"] == "campaign_review"
    assert [f["id"] for f in brief["form"]] == ["brief", "channel"]

    # a user without the role: 403, nothing changes
    before = snapshot(api["admin"], iid)
    refused = api["dora"].post(f"/tasks/{brief['id']}/complete", json={"data": {"brief": "A long enough brief"}})
    assert refused.status_code == 403
    assert snapshot(api["admin"], iid) == before

    # bad form data: 422 with every field error, nothing changes
    bad = api["walt"].post(f"/tasks/{brief['id']}/complete",
                           json={"data": {"brief": "short", "channel": "fax", "colour": "red"}})
    assert bad.status_code == 422
    assert sorted((e["field"], e["message"]) for e in bad.get_json()["errors"]) == [
        ("brief", "must be at least 10 characters"), ("channel", "must be one of email, social, ads"),
        ("colour", "is not a field of this form")]
    assert snapshot(api["admin"], iid) == before

    done = api["walt"].post(f"/tasks/{brief['id']}/complete",
                            json={"data": {"brief": "Spring sale for loyal customers", "channel": "email"}})
    assert done.status_code == 200
    assert sorted(t["element_id"] for t in done.get_json()["tasks"]) == ["Task_copy", "Task_visuals"]
    # a second completion of the same task
    twice = api["walt"].post(f"/tasks/{brief['id']}/complete", json={"data": {"brief": "Another brief text"}})
    assert twice.status_code == 409 and "no longer open" in twice.get_json()["errors"][0]["message"]

    for round_, approved in enumerate([False, True]):
        if round_:
            redo = task_of(api["walt"], "Task_brief")
            assert api["walt"].post(f"/tasks/{redo['id']}/complete",
                                    json={"data": {"brief": "Sharper brief, one message"}}).status_code == 200
        visuals = task_of(api["dora"], "Task_visuals")
        assert api["dora"].post(f"/tasks/{visuals['id']}/complete",
                                json={"data": {"visual_url": "https://cdn.example/v.png", "ready_on": "2026-12-01"}}
                                ).status_code == 200
        copy = task_of(api["walt"], "Task_copy")
        assert api["mia"].get("/tasks?tab=roles").get_json() == [], "approval waits for both branches"
        assert api["walt"].post(f"/tasks/{copy['id']}/complete", json={"data": {"copy": "Save 20%"}}).status_code == 200
        approve = task_of(api["mia"], "Task_approve")
        result = api["mia"].post(f"/tasks/{approve['id']}/complete",
                                 json={"data": {"approved": approved, "feedback": "ok" if approved else "sharper"}})
        assert result.status_code == 200

    final = result.get_json()
    assert final["status"] == "completed" and final["tasks"] == []
    assert final["data"]["ready_on"] == "2026-12-01" and final["data"]["approved"] is True

    steps = [(e["element_id"], e["user"]) for e in api["mia"].get(f"/instances/{iid}/history").get_json()
             if e["type"] == "task_completed"]
    assert steps == [("Task_brief", "walt"), ("Task_visuals", "dora"), ("Task_copy", "walt"), ("Task_approve", "mia"),
                     ("Task_brief", "walt"), ("Task_visuals", "dora"), ("Task_copy", "walt"), ("Task_approve", "mia")]
    types = [e["type"] for e in api["mia"].get(f"/instances/{iid}/history").get_json()]
    assert types[0] == "instance_started" and types[-1] == "instance_completed"


def test_start_form_is_validated(api):
    assert api["ed"].deploy("campaign_review.bpmn").status_code == 201
    reply = api["mia"].post("/processes/campaign_review/instances", json={"data": {"budget": "lots"}})
    assert reply.status_code == 422
    assert sorted(e["field"] for e in reply.get_json()["errors"]) == ["budget", "title"]
    assert api["mia"].post("/processes/nope/instances", json={"data": {}}).status_code == 404
    assert api["mia"].post("/processes/campaign_review/instances", data="[1]",
                           content_type="application/json").status_code == 422


def test_claim_keeps_others_out_until_released(api):
    instance = start_campaign(api)
    brief = task_of(api["walt"], "Task_brief")
    assert api["wendy"].get("/tasks").get_json()[0]["id"] == brief["id"], "Writer role matches case-insensitively"
    assert api["walt"].post(f"/tasks/{brief['id']}/claim").status_code == 200
    assert api["wendy"].get("/tasks").get_json() == []
    assert api["wendy"].post(f"/tasks/{brief['id']}/claim").status_code == 409
    blocked = api["wendy"].post(f"/tasks/{brief['id']}/complete", json={"data": {"brief": "Wendy's brief here"}})
    assert blocked.status_code == 409 and "claimed by walt" in blocked.get_json()["errors"][0]["message"]
    assert api["wendy"].post(f"/tasks/{brief['id']}/unclaim").status_code == 403
    assert api["walt"].post(f"/tasks/{brief['id']}/unclaim").status_code == 200
    assert api["wendy"].post(f"/tasks/{brief['id']}/complete",
                             json={"data": {"brief": "Wendy's brief here"}}).status_code == 200
    events = [e["type"] for e in api["mia"].get(f"/instances/{instance['id']}/history").get_json()]
    assert events.count("task_claimed") == 1 and events.count("task_unclaimed") == 1


def test_restart_mid_instance_loses_nothing(db_url, api):
    instance = start_campaign(api)
    brief = task_of(api["walt"], "Task_brief")
    api["walt"].post(f"/tasks/{brief['id']}/complete", json={"data": {"brief": "Before the restart, long"}})
    definitions._BUNDLES.clear()   # a new process starts with empty caches
    workflow_cache.clear()

    fresh = make_app(db_url).test_client()
    walt, dora = Api(fresh, "walt"), Api(fresh, "dora")
    view = walt.get(f"/instances/{instance['id']}").get_json()
    assert view["status"] == "running" and view["data"]["brief"] == "Before the restart, long"
    assert sorted(t["element_id"] for t in view["tasks"]) == ["Task_copy", "Task_visuals"]
    visuals = task_of(dora, "Task_visuals")
    assert dora.post(f"/tasks/{visuals['id']}/complete", json={"data": {"visual_url": "x"}}).status_code == 200
    history = walt.get(f"/instances/{instance['id']}/history").get_json()
    assert [e["element_id"] for e in history if e["type"] == "task_completed"] == ["Task_brief", "Task_visuals"]


def test_api_refuses_anonymous_and_wrong_passwords(app, people):
    client = app.test_client()
    assert client.get("/api/v1/tasks").status_code == 401
    assert Api(client, "walt", "wrong-password").get("/tasks").status_code == 401
    reply = client.get("/api/v1/tasks", headers={"Authorization": "Bearer not-a-token"})
    assert reply.status_code == 401 and reply.get_json()["errors"]


def test_bearer_tokens_and_user_admin(api, app):
    token = api["walt"].post("/tokens").get_json()["token"]
    reply = app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    assert api["walt"].post("/users", json={"username": "x", "password": "12345678"}).status_code == 403
    made = api["admin"].post("/users", json={"username": "sam", "password": "long-enough", "roles": [" SEO "]})
    assert made.status_code == 201 and made.get_json()["roles"] == ["seo"]
    assert api["admin"].post("/users", json={"username": "sam", "password": "long-enough"}).status_code == 409
    bad = api["admin"].post("/users", json={"username": "a b", "password": "short"})
    assert bad.status_code == 422 and {e["field"] for e in bad.get_json()["errors"]} == {"username", "password"}
    assert "sam" in [u["username"] for u in api["admin"].get("/users").get_json()]


def test_instances_are_readable_only_by_participants(api):
    instance = start_campaign(api)
    assert api["walt"].get(f"/instances/{instance['id']}").status_code == 200, "walt has an open task in it"
    assert api["nobody"].get(f"/instances/{instance['id']}").status_code == 403
    assert api["nobody"].get(f"/instances/{instance['id']}/history").status_code == 403
    assert api["nobody"].get("/instances/999").status_code == 404
    for huge in (2 ** 31, 3_000_000_000, 2 ** 62):   # beyond PostgreSQL's integer: not there, not a server error
        assert api["admin"].get(f"/instances/{huge}").status_code == 404, huge
        assert api["admin"].get(f"/instances?version={huge}").get_json() == []
        assert api["admin"].get(f"/processes/campaign_review/analytics?version={huge}").status_code == 404


def test_the_designer_who_deployed_a_diagram_may_start_it_to_try_it(api):
    """campaign_review is started by the manager's lane; ed (modeller) deployed it, so ed may try it too."""
    assert api["ed"].deploy("campaign_review.bpmn").status_code == 201
    tried = api["ed"].post("/processes/campaign_review/instances", {"data": {"title": "Does it run?"}})
    assert tried.status_code == 201 and tried.json["started_by"] == "ed"
    refused = api["walt"].post("/processes/campaign_review/instances", {"data": {"title": "Not mine"}})
    assert refused.status_code == 403
