"""`baton db upgrade` brings an old database, with work in flight, up to the current schema."""
import gzip

from alembic import command
from alembic.config import Config
from conftest import OPERATOR, diagram
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from sqlalchemy import create_engine, inspect

from engine import database, definitions, instances, tasks, workflow_cache


def alembic_config(url):
    config = Config()
    config.set_main_option("script_location", str(database.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def tables(url):
    engine = database.configure(create_engine(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_the_first_migration_keeps_work_in_flight(db_url, people):
    session = database.connect(db_url)()
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    instance = instances.start(session, "campaign_review", {"title": "Old"}, people["mia"])
    (brief,), _ = tasks.open_for(session, people["walt"])
    tasks.complete(session, brief.id, people["walt"], {"brief": "Written before the upgrade"})
    session.close()

    command.downgrade(alembic_config(db_url), "0001")     # the database as the first release left it
    assert "event_waits" not in tables(db_url) and "notifications" not in tables(db_url)

    database.upgrade(db_url)
    assert {"event_waits", "notifications"} <= tables(db_url)
    session = database.connect(db_url)()
    assert instances.get(session, instance.id).data["brief"] == "Written before the upgrade"
    (copy,), _ = tasks.open_for(session, people["walt"])
    (visuals,), _ = tasks.open_for(session, people["dora"])
    assert [tasks.counts(session, people[name])["all"] for name in ("walt", "dora")] == [1, 1], \
        "the tab counts kept per key start from the tasks open at the upgrade"
    tasks.complete(session, copy.id, people["walt"], {"copy": "After the upgrade"})
    tasks.complete(session, visuals.id, people["dora"], {"visual_url": "v.png"})
    (approve,), _ = tasks.open_for(session, people["mia"])
    assert tasks.complete(session, approve.id, people["mia"], {"approved": True}).status == "completed"
    database.upgrade(db_url)   # upgrading an up-to-date database changes nothing
    session.close()


def test_an_instance_stored_with_its_spec_inside_runs_on(session, people):
    """Baton used to store each instance in SpiffWorkflow's own format, the whole spec included; it now
    stores the tasks only. Instances saved the old way still load and run to their end."""
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    instance = instances.start(session, "campaign_review", {"title": "Old format"}, people["mia"])
    bundle, workflow = instances.load(session, instance)
    old_format = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)).serialize_json(workflow)
    assert '"spec"' in old_format and '"spec"' not in gzip.decompress(instance.state).decode()
    instance.state = gzip.compress(old_format.encode())
    session.commit()
    workflow_cache.clear()   # as after a restart: nothing kept in memory

    (brief,), _ = tasks.open_for(session, people["walt"])
    tasks.complete(session, brief.id, people["walt"], {"brief": "Stored the old way"})
    assert '"spec"' not in gzip.decompress(instance.state).decode(), "the next change stores the new format"
    (copy,), _ = tasks.open_for(session, people["walt"])
    (visuals,), _ = tasks.open_for(session, people["dora"])
    tasks.complete(session, copy.id, people["walt"], {"copy": "c"})
    tasks.complete(session, visuals.id, people["dora"], {"visual_url": "v.png"})
    (approve,), _ = tasks.open_for(session, people["mia"])
    finished = tasks.complete(session, approve.id, people["mia"], {"approved": True})
    assert finished.status == "completed" and finished.data["brief"] == "Stored the old way"


def test_the_migrations_build_exactly_the_schema_the_models_describe(db_url):
    """A model changed without a migration (or the reverse) shows here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.models import Base
    engine = database.configure(create_engine(db_url))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], "models and migrations differ:\n" + "\n".join(map(str, differences))


def test_an_upgrade_of_an_up_to_date_database_changes_nothing(db_url):
    before = tables(db_url)
    engine = database.configure(create_engine(db_url))
    try:
        with engine.connect() as connection:
            heads = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    finally:
        engine.dispose()
    database.upgrade(db_url)
    assert tables(db_url) == before
    engine = database.configure(create_engine(db_url))
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == heads
    finally:
        engine.dispose()
