"""The same spine through the `baton` command a server operator uses: deploy, start, tasks, complete.
The commands run in this process through click's runner (`tests/test_first_run.py` runs the real
`baton` executable); each builds its app from the environment, as the executable does."""
import json

from click.testing import CliRunner
from conftest import DIAGRAMS, PASSWORD

from engine import database, history
from web.cli import main


class Ran:
    def __init__(self, result):
        self.returncode, self.stdout, self.stderr = result.exit_code, result.stdout, result.stderr


def baton(db_url, *args, ok=True):
    env = {"BATON_DATABASE_URL": db_url, "BATON_SECRET_KEY": "cli-test"}
    result = Ran(CliRunner().invoke(main, list(args), env=env, catch_exceptions=False))
    if ok:
        assert result.returncode == 0, f"baton {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def open_tasks(db_url, user):
    return json.loads(baton(db_url, "tasks", "--user", user, "--json").stdout)


def test_cli_drives_the_campaign(db_url):
    assert "up to date" in baton(db_url, "db", "upgrade").stdout
    for name, role in [("mia", "manager"), ("walt", "writer"), ("dora", "designer")]:
        baton(db_url, "users", "add", name, "--password", PASSWORD, "--role", role)

    deployed = json.loads(baton(db_url, "deploy", str(DIAGRAMS / "campaign_review.bpmn")).stdout)
    assert deployed["created"] and deployed["processes"][0]["key"] == "campaign_review"

    refused = baton(db_url, "start", "campaign_review", "--user", "mia", "--data", '{"budget": -1}', ok=False)
    assert refused.returncode == 1 and "title" in refused.stderr and "must be at least 0" in refused.stderr

    started = json.loads(baton(db_url, "start", "campaign_review", "--user", "mia",
                               "--data", '{"title": "CLI launch"}').stdout)
    assert started["status"] == "running"
    assert open_tasks(db_url, "dora") == []
    (brief,) = open_tasks(db_url, "walt")
    assert brief["element_id"] == "Task_brief"

    wrong_role = baton(db_url, "complete", brief["id"], "--user", "dora", "--data", '{"brief": "From the CLI!"}',
                       ok=False)
    assert wrong_role.returncode == 1 and "may not do task" in wrong_role.stderr
    baton(db_url, "complete", brief["id"], "--user", "walt", "--data", '{"brief": "From the CLI, brief"}')
    again = baton(db_url, "complete", brief["id"], "--user", "walt", "--data", '{"brief": "From the CLI, brief"}',
                  ok=False)
    assert again.returncode == 1 and "no longer open" in again.stderr

    for approved in (False, True):   # the manager rejects the first round: the brief comes back
        (copy,) = open_tasks(db_url, "walt")
        (visuals,) = open_tasks(db_url, "dora")
        bad = baton(db_url, "complete", copy["id"], "--user", "walt", "--data", '{"colour": "red"}', ok=False)
        assert bad.returncode == 1 and "is required (field=copy)" in bad.stderr \
            and "is not a field of this form (field=colour)" in bad.stderr
        assert [t["id"] for t in open_tasks(db_url, "walt")] == [copy["id"]], "a refused completion changes nothing"
        baton(db_url, "complete", copy["id"], "--user", "walt", "--data", '{"copy": "Buy"}')
        baton(db_url, "complete", visuals["id"], "--user", "dora", "--data", '{"visual_url": "v.png"}')
        (approve,) = open_tasks(db_url, "mia")
        final = json.loads(baton(db_url, "complete", approve["id"], "--user", "mia",
                                 "--data", json.dumps({"approved": approved})).stdout)
        if not approved:
            assert final["status"] == "running"
            (redo,) = open_tasks(db_url, "walt")
            assert redo["element_id"] == "Task_brief"
            baton(db_url, "complete", redo["id"], "--user", "walt", "--data", '{"brief": "Second brief, sharper"}')
    assert final["status"] == "completed"

    listing = baton(db_url, "tasks").stdout
    assert listing.strip().endswith("0 open task(s)")
    session = database.connect(db_url)()
    steps = [(e.element_id, e.user) for e in history.events(session, final["id"]) if e.type == "task_completed"]
    session.close()
    assert steps == [("Task_brief", "walt"), ("Task_copy", "walt"), ("Task_visuals", "dora"), ("Task_approve", "mia"),
                     ("Task_brief", "walt"), ("Task_copy", "walt"), ("Task_visuals", "dora"), ("Task_approve", "mia")]
