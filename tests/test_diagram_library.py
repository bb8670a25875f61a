"""The shipped workflow library in diagrams/.

Every diagram is checked for what people need to run and read it (lanes named after roles,
instructions on every task, forms behind every decision, diagram interchange that renders in
bpmn-js, bpmnlint's recommended rules), and is driven down every path through the engine API,
each task done by a user of the task's role, until it reaches an end event. The demo data
(`engine.demo`) is loaded from the same diagrams.
"""
import ast
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import OPERATOR
from lxml import etree
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.defaults import EndEvent, ParallelGateway
from sqlalchemy import func, select

from engine import clock, database, definitions, demo, history, instances, messages, tasks, timers, users
from engine.models import HumanTask, Instance, User
from modeller import elements

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "diagrams"
DIAGRAMS = sorted(LIBRARY.glob("*.bpmn"))
STEMS = [p.stem for p in DIAGRAMS]
LINT_CLI = ROOT / "modeller" / "frontend" / "lint-cli.mjs"
LINT_MODULES = ROOT / "modeller" / "frontend" / "node_modules" / "bpmnlint"

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI",
      "camunda": "http://camunda.org/schema/1.0/bpmn"}
TASK_TAGS = ("userTask", "manualTask", "task", "scriptTask", "sendTask", "serviceTask", "receiveTask",
             "businessRuleTask")
FLOW_NODE_TAGS = TASK_TAGS + ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
                              "boundaryEvent", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
                              "eventBasedGateway")
PATH_EVENTS = ("task_completed", "email_queued", "message_received", "timer_fired")
T0 = datetime(2026, 3, 2, 9, 0)


def root_of(path):
    return etree.parse(str(path)).getroot()


def processes_of(root):
    return root.findall("bpmn:process", NS)


def flow_nodes(process):
    return [node for tag in FLOW_NODE_TAGS for node in process.findall(f"bpmn:{tag}", NS)]


def role_of_lane(name):
    return elements.split_names(name)[0]


def username(role):
    return role.replace(" ", "_")


def library_roles():
    return sorted({role_of_lane(lane.get("name")) for path in DIAGRAMS
                   for lane in root_of(path).iter(f"{{{NS['bpmn']}}}lane")})


# ---- fixtures: a fresh SQLite database per test, copied from one set up once -------------------------

@pytest.fixture(scope="session")
def library_template(tmp_path_factory):
    """A migrated SQLite file with one user per role of the library and every diagram deployed."""
    path = tmp_path_factory.mktemp("library") / "template.sqlite3"
    url = f"sqlite:///{path}"
    database.upgrade(url)
    factory = database.connect(url)
    session = factory()
    admin = users.actor(users.create(session, "library_admin", "library-admin-1", admin=True))
    for role in library_roles():
        users.create(session, username(role), "library-pass-1", roles=[role])
    for diagram in DIAGRAMS:
        definitions.deploy(session, [(diagram.name, diagram.read_bytes())], admin)
    session.close()
    factory.kw["bind"].dispose()   # the last connection closes: the WAL is checkpointed into the file
    return path


@pytest.fixture
def library_session(library_template, tmp_path):
    """A session on a fresh copy of the template database in tmp_path."""
    path = tmp_path / "library.sqlite3"
    shutil.copyfile(library_template, path)
    factory = database.connect(f"sqlite:///{path}")
    session = factory()
    yield session
    session.close()
    factory.kw["bind"].dispose()


@pytest.fixture
def library_people(library_session):
    """role → Actor of the user who holds that role."""
    return {role: users.actor(users.find(library_session, username(role))) for role in library_roles()}


# ---- the paths -------------------------------------------------------------------------------------------

@dataclass
class Do:
    """A user of `role` completes the open task `element` with `data`."""
    element: str
    role: str
    data: dict = field(default_factory=dict)
    due: datetime | None = None


@dataclass
class Auto:
    """The engine does `element` by itself (an email step); `subject` is the email's expected subject."""
    element: str
    subject: str | None = None


@dataclass
class Message:
    """Message `name` arrives from outside, correlated on `correlation`; `element` catches it."""
    element: str
    name: str
    correlation: dict
    data: dict = field(default_factory=dict)


@dataclass
class Wait:
    """Time passes by `delta`; the timer `element` fires."""
    element: str
    delta: timedelta


@dataclass
class Run:
    process: str
    start: dict
    steps: list
    end: str
    data: dict = field(default_factory=dict)   # expected in the instance data at the end


def _content_calendar():
    start = {"title": "Ten ideas for spring campaigns", "publish_date": "2026-06-30", "topic": "Seasonal campaigns"}
    before = [
        Do("Task_generate_idea", "content strategist", {"idea": "Ten spring campaign ideas that worked for B2B",
                                                        "target_audience": "B2B marketers"}),
        Do("Task_keyword_research", "seo strategist", {"primary_keyword": "spring campaign ideas",
                                                       "secondary_keywords": "seasonal marketing",
                                                       "search_volume": 2400}),
        Do("Task_create_outline", "writer", {"outline_url": "https://docs.example.com/outline"})]

    def approvals(seo, stakeholder):
        return [Do("Task_seo_approve_outline", "seo strategist", {"seo_approved": seo, "seo_feedback": "ok"}),
                Do("Task_stakeholder_approve_outline", "stakeholder",
                   {"stakeholder_approved": stakeholder, "stakeholder_feedback": "ok"})]

    outline = Do("Task_create_outline", "writer", {"outline_url": "https://docs.example.com/outline-2"})
    draft = Do("Task_write_draft", "writer", {"draft_url": "https://docs.example.com/draft", "word_count": 1800})

    def review(passed):
        return Do("Task_review_draft", "reviewer", {"review_passed": passed, "review_notes": "see comments"})

    after = [Do("Task_create_images", "graphic designer", {"image_urls": "https://cdn.example.com/header.png"}),
             Do("Task_schedule_promotion", "social media manager", {"promotion_channels": "LinkedIn, X",
                                                                    "first_promotion_date": "2026-06-30"}),
             Do("Task_publish_post", "writer", {"live_url": "https://blog.example.com/spring", "live_checked": True})]
    end = "End_post_published"
    return {
        "approved_first_time": Run("content_calendar", start, before + approvals(True, True) + [draft, review(True)]
                                    + after, end),
        "outline_rejected_by_seo": Run("content_calendar", start, before + approvals(False, True) + [outline]
                                        + approvals(True, True) + [draft, review(True)] + after, end),
        "outline_rejected_by_stakeholders": Run("content_calendar", start, before + approvals(True, False)
                                                 + [outline] + approvals(True, True) + [draft, review(True)] + after,
                                                 end),
        "draft_sent_back": Run("content_calendar", start, before + approvals(True, True)
                                + [draft, review(False), draft, review(True)] + after, end),
    }


def _email_nurture():
    start = {"title": "The B2B email playbook", "topic": "Email marketing for B2B SaaS", "launch_date": "2026-09-01"}

    def write_and_design(approved):
        return [Do("Task_write_ebook", "copywriter", {"manuscript_url": "https://docs.example.com/ebook"}),
                Do("Task_design_ebook", "graphic designer", {"ebook_pdf_url": "https://cdn.example.com/ebook.pdf"}),
                Do("Task_approve_ebook", "marketing manager", {"ebook_approved": approved,
                                                               "ebook_feedback": "shorter chapters"})]

    schedule = [Do("Task_schedule_ebook", "marketing manager", {"ebook_brief": "Why B2B email still wins, for CMOs"})]
    launch = [Do("Task_build_landing_page", "web developer", {"landing_page_url": "https://example.com/playbook"}),
              Do("Task_write_email_sequence", "email marketer", {"sequence_url": "https://docs.example.com/emails"}),
              Do("Task_load_sequence", "email marketer", {"test_lead_ok": True})]
    lead = {"title": "Ana Lopez", "email": "ana@example.com", "company": "Acme", "ebook": "The B2B email playbook",
            "ebook_url": "https://example.com/playbook.pdf"}
    email_one = Auto("Send_email_one", "Your ebook: The B2B email playbook")
    return {
        "approved_first_time": Run("email_nurture", start, schedule + write_and_design(True) + launch,
                                    "End_sequence_live"),
        "sent_back_once": Run("email_nurture", start, schedule + write_and_design(False) + write_and_design(True)
                               + launch, "End_sequence_live"),
        "lead_downloads_the_ebook": Run("email_nurture_lead", lead, [
            email_one,
            Message("Event_ebook_downloaded", "ebook_downloaded", {"email": "ana@example.com"},
                    {"downloaded_at": "2026-03-03T10:00:00"}),
            Auto("Send_email_two_next_steps", "What to do after reading The B2B email playbook"),
            Do("Task_follow_up_lead", "sales rep", {"lead_outcome": "meeting_booked"})],
            "End_lead_with_sales", {"downloaded_at": "2026-03-03T10:00:00"}),
        "lead_silent_for_3_days": Run("email_nurture_lead", lead, [
            email_one,
            Wait("Event_three_days", timedelta(days=3, minutes=1)),
            Auto("Send_email_two_reminder", "Your copy of The B2B email playbook is waiting"),
            Do("Task_follow_up_lead", "sales rep", {"lead_outcome": "not_now", "sales_notes": "no answer"})],
            "End_lead_with_sales"),
    }


def _lead_to_cash():
    start = {"title": "Northwind Traders", "contact_email": "buyer@northwind.example.com", "lead_source": "event"}
    qualify = Do("Task_qualify_lead", "marketing analyst", {"lead_score": 82, "sales_ready": True})
    sell = [qualify, Do("Task_contact_lead", "sales rep", {"customer_need": "Quarterly campaign support"})]

    def close(outcome):
        return Do("Task_close_deal", "sales rep", {"deal_outcome": outcome, "deal_value": 12000})

    invoice = Do("Task_issue_invoice", "billing", {"invoice_number": "INV-2026-031", "invoice_amount": 12000,
                                                   "payment_due": "2026-04-15"})
    book = Do("Task_book_payment", "finance", {"booking_reference": "GL-8812"})
    return {
        "not_sales_ready": Run("lead_to_cash", start, [
            Do("Task_qualify_lead", "marketing analyst", {"lead_score": 31, "sales_ready": False})],
            "End_lead_back_to_nurture"),
        "deal_lost": Run("lead_to_cash", start, sell + [
            close("lost"), Do("Task_record_loss", "sales rep", {"loss_reason": "competitor"})], "End_deal_lost"),
        "paid_in_full": Run("lead_to_cash", start, sell + [
            close("won"), invoice,
            Do("Task_receive_payment", "finance", {"paid_in_full": True, "amount_received": 12000},
               due=datetime(2026, 4, 15)),
            book], "End_cash_booked"),
        "paid_after_a_reminder": Run("lead_to_cash", start, sell + [
            close("won"), invoice,
            Do("Task_receive_payment", "finance", {"paid_in_full": False, "amount_received": 6000},
               due=datetime(2026, 4, 15)),
            Do("Task_send_payment_reminder", "billing", {"payment_due": "2026-04-29"}),
            Do("Task_receive_payment", "finance", {"paid_in_full": True, "amount_received": 12000},
               due=datetime(2026, 4, 29)),
            book], "End_cash_booked"),
    }


def _paid_media_campaign():
    start = {"title": "Spring webinar promotion", "budget": 5000, "flight_start": "2026-04-01"}

    def create(objective):
        return Do("Task_create_campaign", "paid media specialist", {"objective": objective, "platform": "LinkedIn"})

    tracking = Do("Task_set_up_tracking", "web developer", {"conversion_event": "webinar_signup"})
    audience = Do("Task_define_audience", "paid media specialist", {"audience": "Marketing leads in DACH",
                                                                    "audience_size": 120000})
    ad_set = Do("Task_build_ad_set", "paid media specialist", {"ad_count": 3, "placements": "feed"})

    def approve(decision):
        return Do("Task_approve_campaign", "marketing manager", {"approval": decision})

    launch = Do("Task_launch_campaign", "paid media specialist", {"campaign_url": "https://ads.example.com/c/1"})
    end = "End_campaign_live"
    return {
        "clicks_launched": Run("paid_media_campaign", start, [create("clicks"), audience, ad_set, approve("launch"),
                                                               launch], end),
        "conversions_audience_changed": Run("paid_media_campaign", start, [
            create("conversions"), tracking, audience, ad_set, approve("change_audience"), audience, ad_set,
            approve("launch"), launch], end),
        "followers_ad_set_changed": Run("paid_media_campaign", start, [
            create("followers"), audience, ad_set, approve("change_ad_set"), ad_set, approve("launch"), launch], end),
    }


def _employee_onboarding():
    def start(location):
        return {"title": "Sam Carter", "personal_email": "sam@example.net", "job_title": "Content designer",
                "start_date": "2026-05-04", "work_location": location}

    first = [Auto("Send_welcome_email", "Welcome to the team, Sam Carter!"),
             Do("Task_enter_employee_data", "hr manager", {"employee_id": "E-1042", "contract_type": "permanent"},
                due=datetime(2026, 4, 24)),
             Do("Task_prepare_paperwork", "legal counsel", {"contract_signed": True, "nda_signed": True},
                due=datetime(2026, 4, 29)),
             Do("Task_enroll_benefits", "hr manager", {"benefits_plan": "standard"}, due=datetime(2026, 5, 1)),
             Do("Task_introduce_team", "team lead", {"buddy": "Priya"}, due=datetime(2026, 5, 4))]
    last = [Do("Task_create_accounts", "it support", {"work_email": "sam.carter@example.com"},
               due=datetime(2026, 5, 3)),
            Do("Task_run_training", "team lead", {"training_completed": True}, due=datetime(2026, 5, 11))]
    return {
        "office": Run("employee_onboarding", start("office"), first + [
            Do("Task_set_up_desk", "it support", {"laptop_serial": "C02XL0ABC"}, due=datetime(2026, 5, 3))] + last,
            "End_employee_onboarded"),
        "remote": Run("employee_onboarding", start("remote"), first + [
            Do("Task_ship_equipment", "it support", {"laptop_serial": "C02XL0XYZ", "tracking_number": "1Z999"},
               due=datetime(2026, 4, 29))] + last, "End_employee_onboarded"),
    }


def _client_onboarding():
    start = {"title": "Bluebird Bakery", "client_email": "owner@bluebird.example.com",
             "services": "Social media management", "deposit_amount": 3000}
    accounts = Do("Task_create_client_accounts", "account manager", {"project_url": "https://pm.example.com/p/7"})
    contract = Do("Task_send_contract", "account manager", {"contract_url": "https://docs.example.com/contract"})

    def answer(value):
        return Do("Task_record_client_answer", "account manager", {"contract_answer": value,
                                                                   "requested_changes": "30 days payment terms"})

    def invoice(number):
        return Do("Task_send_deposit_invoice", "finance", {"invoice_number": number})

    def paid(number):
        return Message("Event_deposit_received", "deposit_received", {"invoice_number": number},
                       {"amount_paid": 3000})

    finish = [Do("Task_book_deposit", "finance", {"booking_reference": "GL-9001"}),
              Do("Task_schedule_kickoff", "account manager", {"kickoff_date": "2026-03-20"})]
    return {
        "signed_and_paid": Run("client_onboarding", start, [
            accounts, contract, answer("signed"), invoice("INV-1001"), paid("INV-1001")] + finish,
            "End_client_onboarded", {"amount_paid": 3000}),
        "changes_and_a_chase": Run("client_onboarding", start, [
            accounts, contract, answer("changes_requested"),
            Do("Task_revise_contract", "legal counsel", {"revision_notes": "30 days accepted"}),
            contract, answer("signed"), invoice("INV-1002"),
            Wait("Event_seven_days", timedelta(days=7, minutes=1)),
            Do("Task_chase_deposit", "finance", {"chase_note": "paying this week"}),
            paid("INV-1002")] + finish, "End_client_onboarded"),
    }


def _type_ad_hoc():
    start = {"title": "Summer sale ads", "problem": "Click-through rate halved since Monday"}

    def choose(step):
        return Do("Task_choose_next_step", "campaign owner", {"next_step": step})

    analyse = Do("Task_analyse_data", "marketing analyst", {"findings": "Mobile feed placements underperform"})
    targeting = Do("Task_adjust_targeting", "paid media specialist", {"targeting_change": "Dropped mobile feed"})
    creative = Do("Task_refresh_creative", "graphic designer", {"creative_urls": "https://cdn.example.com/v2"})
    end = "End_campaign_fixed"
    return {
        "done_at_once": Run("type_ad_hoc", start, [choose("done")], end),
        "one_step_others_skipped": Run("type_ad_hoc", start, [choose("targeting"), targeting, choose("done")], end),
        "steps_repeated_in_any_order": Run("type_ad_hoc", start, [
            choose("analyse"), analyse, choose("creative"), creative, choose("analyse"), analyse,
            choose("targeting"), targeting, choose("done")], end),
    }


def _type_production():
    def order(quantity, price, express):
        return {"title": "Corner Cafe", "quantity": quantity, "unit_price": price, "express": express}

    pick = Do("Task_pick_and_pack", "warehouse", {"tracking_number": "PK-778"})
    return {
        "small_order": Run("type_production", order(10, 8, False), [pick], "End_order_shipped",
                            {"order_total": 80, "shipping_fee": 9, "amount_due": 89}),
        "large_order_credit_ok": Run("type_production", order(100, 12, True), [
            Do("Task_check_credit", "finance", {"credit_ok": True}), pick], "End_order_shipped",
            {"order_total": 1200, "shipping_fee": 15, "amount_due": 1215}),
        "large_order_credit_refused": Run("type_production", order(50, 10, False), [
            Do("Task_check_credit", "finance", {"credit_ok": False, "credit_note": "over limit"}),
            Do("Task_request_prepayment", "order desk", {"proforma_number": "PF-12"})], "End_order_on_hold",
            {"order_total": 500, "shipping_fee": 0, "amount_due": 500}),
    }


def _type_administrative():
    start = {"title": "Laptop for the new designer", "amount": 1900, "supplier": "Office Direct",
             "reason": "New hire starts in May"}
    return {
        "approved": Run("type_administrative", start, [
            Do("Task_approve_purchase", "team lead", {"purchase_approved": True}),
            Do("Task_place_order", "purchasing", {"order_number": "PO-5521", "expected_delivery": "2026-03-10"}),
            Do("Task_confirm_delivery", "requester", {"delivery_complete": True})], "End_purchase_done"),
        "declined": Run("type_administrative", start, [
            Do("Task_approve_purchase", "team lead", {"purchase_approved": False, "decision_note": "Use a spare"})],
            "End_request_declined"),
    }


def _type_collaborative():
    start = {"title": "Baton 2.0", "launch_date": "2026-06-01"}
    brief = Do("Task_write_launch_brief", "product marketer", {"launch_brief": "https://docs.example.com/brief"})
    parallel = [Do("Task_design_assets", "graphic designer", {"asset_urls": "https://cdn.example.com/launch"}),
                Do("Task_write_press_release", "pr manager", {"press_release_url": "https://docs.example.com/pr"}),
                Do("Task_prepare_sales_kit", "sales enablement", {"sales_kit_url": "https://docs.example.com/kit"})]

    def review(ready):
        return Do("Task_review_readiness", "product marketer", {"launch_ready": ready})

    go = Do("Task_go_live", "product marketer", {"launch_url": "https://example.com/2.0"})
    return {
        "ready_first_time": Run("type_collaborative", start, [brief] + parallel + [review(True), go],
                                 "End_product_launched"),
        "another_round": Run("type_collaborative", start, [brief] + parallel + [review(False)] + parallel
                              + [review(True), go], "End_product_launched"),
    }


def _type_transactional():
    start = {"title": "Customer summit 2026", "event_date": "2026-09-17", "guests": 120}
    venue = Do("Task_book_venue", "events manager", {"venue_booked": True, "venue_reference": "V-1"})
    catering = Do("Task_order_catering", "catering coordinator", {"catering_ordered": True})
    undo_venue = Do("Task_cancel_venue", "events manager", {"venue_cancellation": "VC-1"})
    return {
        "all_booked": Run("type_transactional", start, [
            venue, catering, Do("Task_pay_deposits", "finance", {"deposits_paid": True})], "End_event_booked"),
        "venue_unavailable": Run("type_transactional", start, [
            Do("Task_book_venue", "events manager", {"venue_booked": False})], "End_nothing_booked"),
        "catering_failed_venue_undone": Run("type_transactional", start, [
            venue, Do("Task_order_catering", "catering coordinator", {"catering_ordered": False}), undo_venue],
            "End_booking_undone"),
        "deposits_failed_both_undone": Run("type_transactional", start, [
            venue, catering, Do("Task_pay_deposits", "finance", {"deposits_paid": False}),
            Do("Task_cancel_catering", "catering coordinator", {"catering_cancellation": "CC-1"}), undo_venue],
            "End_booking_undone"),
    }


PATHS = {"content_calendar": _content_calendar(), "email_nurture": _email_nurture(), "lead_to_cash": _lead_to_cash(),
         "paid_media_campaign": _paid_media_campaign(), "employee_onboarding": _employee_onboarding(),
         "client_onboarding": _client_onboarding(), "type_ad_hoc": _type_ad_hoc(),
         "type_production": _type_production(), "type_administrative": _type_administrative(),
         "type_collaborative": _type_collaborative(), "type_transactional": _type_transactional()}
PATH_CASES = [(stem, name) for stem in PATHS for name in PATHS[stem]]


# ---- driving a path --------------------------------------------------------------------------------------

def starter_role(process_key):
    """The role of the lane that holds the process's start event: only it may start the process."""
    for diagram in DIAGRAMS:
        for process in processes_of(root_of(diagram)):
            if process.get("id") == process_key:
                start = process.find("bpmn:startEvent", NS)
                for lane in process.iter(f"{{{NS['bpmn']}}}lane"):
                    if start.get("id") in [r.text.strip() for r in lane.findall("bpmn:flowNodeRef", NS)]:
                        return role_of_lane(lane.get("name"))
    raise AssertionError(f"no start event in a lane for {process_key}")


def open_task(session, actor, instance, element_id):
    rows, _ = tasks.open_for(session, actor, limit=500, process_key=instance.process_key)
    found = [r for r in rows if r.instance_id == instance.id and r.element_id == element_id]
    assert len(found) == 1, (f"{actor.username} should see one open {element_id}; open now: "
                             f"{[t['element_id'] for t in instances.describe(session, instance)['tasks']]}")
    return found[0]


def reached_ends(session, instance):
    _, workflow = instances.load(session, instance)
    return [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if isinstance(t.task_spec, EndEvent)]


def taken_flows(session, instance, root):
    """Sequence flow ids the instance went along, read from SpiffWorkflow's task tree."""
    by_ends = {(f.get("sourceRef"), f.get("targetRef")): f.get("id")
               for f in root.iter(f"{{{NS['bpmn']}}}sequenceFlow")}
    _, workflow = instances.load(session, instance)
    taken = set()
    for task in workflow.get_tasks():
        parent = task.parent
        if parent is None or parent.state != TaskState.COMPLETED:
            continue
        # a parallel join is completed by the last branch; the earlier branches' join tasks are cancelled
        went = task.state == TaskState.COMPLETED or (
            task.state == TaskState.CANCELLED and isinstance(task.task_spec, ParallelGateway))
        key = (parent.task_spec.bpmn_id, task.task_spec.bpmn_id)
        if went and key in by_ends:
            taken.add(by_ends[key])
    return taken


def drive(session, people, path):
    """Run `path` from its start form to its end; return (instance, due dates seen per element)."""
    dues = {}
    with clock.frozen_at(T0):
        instance = instances.start(session, path.process, path.start, people[starter_role(path.process)])
        assert instance.status == "running"
        for step in path.steps:
            if isinstance(step, Do):
                actor = people[step.role]
                row = open_task(session, actor, instance, step.element)
                assert row.roles == [step.role], f"{step.element} is for {row.roles}, expected {step.role}"
                dues.setdefault(step.element, row.due_at)
                if step.due is not None:
                    assert row.due_at == step.due, f"{step.element} due {row.due_at}, expected {step.due}"
                instance = tasks.complete(session, row.id, actor, step.data)
            elif isinstance(step, Message):
                assert messages.deliver(session, OPERATOR, step.name, step.correlation, step.data) == [instance.id]
            elif isinstance(step, Wait):
                assert timers.fire_due(session, clock.now()) == 0, "nothing is due before the wait"
                clock.travel(clock.now() + step.delta)
                assert timers.fire_due(session, clock.now()) >= 1, f"{step.element} should fire"
            session.refresh(instance)
            assert instance.status == "running" or step is path.steps[-1], \
                f"{instance.status} after {step.element}: {instance.incident}"
    return instance, dues


def path_taken(session, instance):
    """The ordered element ids of what happened: tasks completed, emails queued, messages and timers caught."""
    return [e.element_id for e in history.events(session, instance.id) if e.type in PATH_EVENTS]


@pytest.mark.parametrize("stem,name", PATH_CASES, ids=[f"{s}-{n}" for s, n in PATH_CASES])
def test_path_runs_to_its_end(library_session, library_people, stem, name):
    path = PATHS[stem][name]
    instance, _ = drive(library_session, library_people, path)
    assert instance.status == "completed", instance.incident
    assert path_taken(library_session, instance) == [step.element for step in path.steps]
    assert reached_ends(library_session, instance) == [path.end]
    assert instances.describe(library_session, instance)["tasks"] == [], "no task is left open"
    for key, value in path.data.items():
        assert instance.data.get(key) == value, key
    for step in path.steps:
        if isinstance(step, Auto) and step.subject:
            queued = [e for e in history.events(library_session, instance.id)
                      if e.type == "email_queued" and e.element_id == step.element]
            assert queued[0].data["subject"] == step.subject
            assert queued[0].data["to"] == path.start.get("email", path.start.get("personal_email"))


@pytest.mark.parametrize("stem", STEMS)
def test_paths_take_every_flow_and_reach_every_end(library_session, library_people, stem):
    """Together the paths of a diagram go along every sequence flow: each gateway outcome, each loop."""
    root = root_of(LIBRARY / f"{stem}.bpmn")
    assert stem in PATHS, f"{stem}.bpmn has no paths in PATHS"
    taken, ends = set(), set()
    for name, path in PATHS[stem].items():
        instance, _ = drive(library_session, library_people, path)
        assert instance.status == "completed", f"{name}: {instance.incident}"
        taken |= taken_flows(library_session, instance, root)
        ends |= set(reached_ends(library_session, instance))
    flows = {f.get("id") for f in root.iter(f"{{{NS['bpmn']}}}sequenceFlow")}
    assert sorted(flows - taken) == [], "flows no path takes"
    all_ends = {e.get("id") for e in root.iter(f"{{{NS['bpmn']}}}endEvent")}
    assert ends == all_ends


def test_every_diagram_has_paths():
    assert sorted(PATHS) == STEMS


def test_content_calendar_counts_back_from_the_publish_date(library_session, library_people):
    _, dues = drive(library_session, library_people, PATHS["content_calendar"]["approved_first_time"])
    publish = datetime(2026, 6, 30)
    assert dues["Task_keyword_research"] == publish - timedelta(days=25)
    assert {element: (publish - due).days for element, due in dues.items()} == {
        "Task_generate_idea": 30, "Task_keyword_research": 25, "Task_create_outline": 20,
        "Task_seo_approve_outline": 15, "Task_stakeholder_approve_outline": 15, "Task_write_draft": 10,
        "Task_review_draft": 10, "Task_create_images": 5, "Task_schedule_promotion": 4, "Task_publish_post": 0}


def test_content_calendar_due_dates_follow_a_moved_publish_date(library_session, library_people):
    path = PATHS["content_calendar"]["approved_first_time"]
    moved = Run(path.process, {**path.start, "publish_date": "2026-07-31"}, path.steps[:2], path.end)
    instance, dues = drive(library_session, library_people, moved)
    assert dues["Task_keyword_research"] == datetime(2026, 7, 6)
    assert open_task(library_session, library_people["writer"], instance,
                     "Task_create_outline").due_at == datetime(2026, 7, 11)


def test_a_late_download_after_the_timeout_finds_nobody_waiting(library_session, library_people):
    from engine.errors import NotFound
    path = PATHS["email_nurture"]["lead_silent_for_3_days"]
    drive(library_session, library_people, Run(path.process, path.start, path.steps[:3], path.end))
    with pytest.raises(NotFound):
        messages.deliver(library_session, OPERATOR, "ebook_downloaded", {"email": "ana@example.com"})


# ---- what every diagram must have ------------------------------------------------------------------------

@pytest.mark.parametrize("stem", STEMS)
def test_conventions(stem):
    root = root_of(LIBRARY / f"{stem}.bpmn")
    assert root.nsmap.get("camunda") == NS["camunda"]
    processes = processes_of(root)
    assert processes[0].get("id") == stem, "the process id is the file stem"
    assert all(p.get("id") == stem or p.get("id").startswith(f"{stem}_") for p in processes)
    assert all(p.get("isExecutable") == "true" and p.get("name") for p in processes)
    collaborations = root.findall("bpmn:collaboration", NS)
    assert len(collaborations) == 1
    participants = collaborations[0].findall("bpmn:participant", NS)
    assert sorted(p.get("processRef") for p in participants) == sorted(p.get("id") for p in processes), \
        "one pool per process"
    assert all(p.get("name") for p in participants)
    for process in processes:
        lanes = list(process.iter(f"{{{NS['bpmn']}}}lane"))
        assert lanes and all(lane.get("name") for lane in lanes)
        starts = process.findall("bpmn:startEvent", NS)
        assert len(starts) == 1
        title = [f for f in elements.form_fields(starts[0]) if f["id"] == "title"]
        assert title and title[0]["type"] == "string" and title[0]["required"], "a required title labels instances"


@pytest.mark.parametrize("stem", STEMS)
def test_every_task_has_a_name_documentation_and_a_lane(stem):
    root = root_of(LIBRARY / f"{stem}.bpmn")
    for process in processes_of(root):
        in_lane = {ref.text.strip() for ref in process.iter(f"{{{NS['bpmn']}}}flowNodeRef")}
        for node in flow_nodes(process):
            assert node.get("id") in in_lane, f"{node.get('id')} is in no lane"
        for tag in TASK_TAGS:
            for task in process.findall(f"bpmn:{tag}", NS):
                assert task.get("name"), task.get("id")
                doc = task.find("bpmn:documentation", NS)
                assert doc is not None and len((doc.text or "").strip()) >= 40, f"{task.get('id')} needs instructions"


@pytest.mark.parametrize("stem", STEMS)
def test_ids_are_readable_and_unique(stem):
    root = root_of(LIBRARY / f"{stem}.bpmn")
    # BPMN ids; camunda:formField ids are variable names, and two tasks may set the same variable
    ids = [e.get("id") for e in root.iter() if isinstance(e.tag, str) and e.get("id")
           and e.tag.startswith("{http://www.omg.org/spec/")]
    assert len(ids) == len(set(ids))
    pattern = re.compile(r"^(Start|End|Task|Gateway|Event|Send|Script)_[a-z0-9]+(_[a-z0-9]+)*$")
    for process in processes_of(root):
        for node in flow_nodes(process):
            assert pattern.match(node.get("id")), node.get("id")
        for flow in process.findall("bpmn:sequenceFlow", NS):
            assert re.match(r"^Flow_[a-z0-9_]+$", flow.get("id")), flow.get("id")


def _names(source, mode):
    tree = ast.parse(source.strip(), mode=mode)
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    written = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return read, written


@pytest.mark.parametrize("stem", STEMS)
def test_every_decision_reads_form_fields(stem):
    """A task without form fields accepts no data: every name a condition or due date reads must be a
    form field (or computed by a script task)."""
    root = root_of(LIBRARY / f"{stem}.bpmn")
    helpers = {"True", "False", "None", "days", "hours", "weeks", "minutes", "date", "len", "min", "max"}
    for process in processes_of(root):
        fields = {f.get("id") for f in process.iter(f"{{{NS['camunda']}}}formField")}
        for script in process.iter(f"{{{NS['bpmn']}}}script"):
            fields |= _names(script.text, "exec")[1]
        for element_id, kind, source, mode in elements.code(process):
            if kind.startswith("time"):
                continue
            read, _ = _names(source, mode)
            assert read - helpers <= fields, f"{element_id} ({kind}) reads {sorted(read - helpers - fields)}"
        for gateway in process.findall("bpmn:exclusiveGateway", NS):
            outgoing = [f for f in process.findall("bpmn:sequenceFlow", NS) if f.get("sourceRef") == gateway.get("id")]
            if len(outgoing) > 1:
                conditioned = [f for f in outgoing if f.find("bpmn:conditionExpression", NS) is not None]
                assert len(conditioned) + (1 if gateway.get("default") else 0) == len(outgoing), gateway.get("id")


# ---- diagram interchange ---------------------------------------------------------------------------------

def _box(element):
    bounds = element.find("dc:Bounds", NS)
    return tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))


def _inside(inner, outer):
    return (inner[0] >= outer[0] and inner[1] >= outer[1] and inner[0] + inner[2] <= outer[0] + outer[2]
            and inner[1] + inner[3] <= outer[1] + outer[3])


def _overlap(a, b):
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _on_border(point, box, tolerance=1.5):
    x, y = point
    return (box[0] - tolerance <= x <= box[0] + box[2] + tolerance
            and box[1] - tolerance <= y <= box[1] + box[3] + tolerance
            and min(abs(x - box[0]), abs(x - box[0] - box[2]), abs(y - box[1]), abs(y - box[1] - box[3])) <= tolerance)


def _crosses(p, q, box, shrink=2):
    """Does the straight segment p-q pass through the inside of `box`?"""
    x0, y0, x1, y1 = box[0] + shrink, box[1] + shrink, box[0] + box[2] - shrink, box[1] + box[3] - shrink
    steps = max(1, int(max(abs(q[0] - p[0]), abs(q[1] - p[1]))))
    return any(x0 < p[0] + (q[0] - p[0]) * i / steps < x1 and y0 < p[1] + (q[1] - p[1]) * i / steps < y1
               for i in range(steps + 1))


def layout_problems(root):
    problems = []
    shapes = {s.get("bpmnElement"): s for s in root.iter(f"{{{NS['bpmndi']}}}BPMNShape")}
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge")}
    pools = {p.get("processRef"): p.get("id") for p in root.iter(f"{{{NS['bpmn']}}}participant")}
    boxes, labels, segments = {}, [], []
    for process in processes_of(root):
        if pools.get(process.get("id")) not in shapes:
            problems.append(f"no pool shape for {process.get('id')}")
            continue
        pool = _box(shapes[pools[process.get("id")]])
        lane_of = {}
        for lane in process.iter(f"{{{NS['bpmn']}}}lane"):
            if lane.get("id") not in shapes:
                problems.append(f"no shape for lane {lane.get('id')}")
                continue
            lane_box = _box(shapes[lane.get("id")])
            if not _inside(lane_box, pool):
                problems.append(f"lane {lane.get('id')} sticks out of its pool")
            for ref in lane.findall("bpmn:flowNodeRef", NS):
                lane_of[ref.text.strip()] = lane_box
        for node in flow_nodes(process):
            node_id = node.get("id")
            if node_id not in shapes:
                problems.append(f"no shape for {node_id}")
                continue
            boxes[node_id] = _box(shapes[node_id])
            if node_id in lane_of and not _inside(boxes[node_id], lane_of[node_id]):
                problems.append(f"{node_id} is drawn outside its lane")
            label = shapes[node_id].find("bpmndi:BPMNLabel", NS)
            if label is not None:
                labels.append((node_id, _box(label)))
                if node_id in lane_of and not _inside(_box(label), lane_of[node_id]):
                    problems.append(f"the label of {node_id} is outside its lane")
            elif node.get("name") and not node.tag.endswith("Task"):
                problems.append(f"{node_id} has a name but no label position")
        for flow in process.findall("bpmn:sequenceFlow", NS):
            flow_id = flow.get("id")
            if flow_id not in edges:
                problems.append(f"no edge for {flow_id}")
                continue
            points = [(float(w.get("x")), float(w.get("y"))) for w in edges[flow_id].findall("di:waypoint", NS)]
            if len(points) < 2:
                problems.append(f"{flow_id} has fewer than two waypoints")
                continue
            source, target = flow.get("sourceRef"), flow.get("targetRef")
            if source in boxes and not _on_border(points[0], boxes[source]):
                problems.append(f"{flow_id} does not leave {source} from its border")
            if target in boxes and not _on_border(points[-1], boxes[target]):
                problems.append(f"{flow_id} does not arrive at {target}'s border")
            segments += [(flow_id, source, target, p, q) for p, q in zip(points, points[1:])]
            if any(not _inside((min(p[0], q[0]), min(p[1], q[1]), abs(p[0] - q[0]), abs(p[1] - q[1])), pool)
                   for p, q in zip(points, points[1:])):
                problems.append(f"{flow_id} leaves its pool")
            label = edges[flow_id].find("bpmndi:BPMNLabel", NS)
            if label is not None:
                labels.append((flow_id, _box(label)))
            elif flow.get("name"):
                problems.append(f"{flow_id} has a name but no label position")
    for flow_id, source, target, p, q in segments:
        for node_id, box in boxes.items():
            if node_id not in (source, target) and _crosses(p, q, box):
                problems.append(f"{flow_id} runs through {node_id}")
    node_ids = list(boxes)
    for i, a in enumerate(node_ids):
        for b in node_ids[i + 1:]:
            if _overlap(boxes[a], boxes[b]):
                problems.append(f"{a} and {b} overlap")
    for i, (owner, box) in enumerate(labels):
        for other, other_box in labels[i + 1:]:
            if _overlap(box, other_box):
                problems.append(f"the labels of {owner} and {other} overlap")
        for node_id, node_box in boxes.items():
            if node_id != owner and _overlap(box, node_box):
                problems.append(f"the label of {owner} covers {node_id}")
        for flow_id, _, _, p, q in segments:
            if flow_id != owner and _crosses(p, q, box, shrink=0):
                problems.append(f"{flow_id} crosses the label of {owner}")
    return problems


@pytest.mark.parametrize("stem", STEMS)
def test_diagram_interchange_draws_everything_in_place(stem):
    assert layout_problems(root_of(LIBRARY / f"{stem}.bpmn")) == []


def test_layout_check_notices_a_misplaced_shape():
    root = root_of(LIBRARY / "type_administrative.bpmn")
    shape = root.find(".//bpmndi:BPMNShape[@bpmnElement='Task_place_order']/dc:Bounds", NS)
    shape.set("y", "0")
    root.find(".//bpmndi:BPMNEdge[@bpmnElement='Flow_approve_purchase_to_purchase_approved']", NS).getparent().remove(
        root.find(".//bpmndi:BPMNEdge[@bpmnElement='Flow_approve_purchase_to_purchase_approved']", NS))
    found = layout_problems(root)
    assert "Task_place_order is drawn outside its lane" in found
    assert "no edge for Flow_approve_purchase_to_purchase_approved" in found


@pytest.mark.parametrize("stem", STEMS)
def test_deploys_as_runnable_processes(library_session, stem):
    admin = users.actor(users.find(library_session, "library_admin"))
    content = (LIBRARY / f"{stem}.bpmn").read_bytes()
    definition, created = definitions.deploy(library_session, [(f"{stem}.bpmn", content)], admin)
    assert not created, "the template already deployed these bytes"
    described = definitions.describe(definition)
    assert described["problems"] == []
    assert all(p["executable"] for p in described["processes"])


def test_readme_lists_every_workflow():
    readme = (LIBRARY / "README.md").read_text()
    for stem in STEMS:
        assert f"`{stem}.bpmn`" in readme, stem
    for kind in ("ad hoc", "production", "administrative", "collaborative", "transactional"):
        assert kind in readme.lower()


# ---- bpmnlint ----------------------------------------------------------------------------------------------

def test_bpmnlint_recommended_rules_pass():
    assert LINT_MODULES.exists(), "npm packages of the modeller are missing: run `make frontend`"
    node = shutil.which("node")
    assert node, "node is not installed"
    run = subprocess.run([node, str(LINT_CLI), *map(str, DIAGRAMS)], capture_output=True, text=True, timeout=120)
    reports = json.loads(run.stdout)
    assert sorted(Path(f).stem for f in reports) == STEMS
    errors = {f: [r for r in found if r["category"] == "error"] for f, found in reports.items()}
    assert all(not found for found in errors.values()), errors
    warnings = {f: found for f, found in reports.items() if found}
    assert warnings == {}, "the library is warning-free too"
    assert run.returncode == 0, run.stderr


def test_bpmnlint_cli_reports_what_fails_as_errors_and_style_as_warnings(tmp_path):
    """The rules the modeller shows (.bpmnlintrc): a step no flow reaches is an error (it never runs),
    a missing name only a warning (it runs)."""
    assert LINT_MODULES.exists(), "npm packages of the modeller are missing: run `make frontend`"
    xml = (LIBRARY / "type_administrative.bpmn").read_bytes()

    def lint(content):
        broken = tmp_path / "broken.bpmn"
        broken.write_bytes(content)
        run = subprocess.run([shutil.which("node"), str(LINT_CLI), str(broken)], capture_output=True, text=True,
                             timeout=120)
        return run.returncode, json.loads(run.stdout)[str(broken)]

    code, found = lint(xml.replace(b' name="Purchase done"', b""))
    assert code == 0 and found == [{"id": "End_purchase_done", "message": "Element is missing label/name (label-required)",
                                    "category": "warn"}]
    code, found = lint(xml.replace(b"</bpmn:process>", b'<bpmn:task id="Task_loose" name="Loose" /></bpmn:process>', 1))
    assert code == 1
    assert {"id": "Task_loose", "message": "Element is not connected (no-disconnected)", "category": "error"} in found


def _flows(*pairs, split="parallelGateway"):
    """A process of the flows `pairs` (source, target): `g` is a gateway of kind `split`, `x` an exclusive
    one, `e` the end, every other id a user task."""
    nodes = sorted({n for pair in pairs for n in pair} - {"s"})
    kinds = {"g": split, "x": "exclusiveGateway", "e": "endEvent"}
    body = ['<bpmn:startEvent id="s" name="Start" />']
    body += [f'<bpmn:{kinds.get(n, "userTask")} id="{n}" name="Step {n}" />' for n in nodes]
    body += [f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />' for i, (a, b) in enumerate(pairs)]
    return ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="definitions" targetNamespace="t">'
            f'<bpmn:process id="p" isExecutable="true">{"".join(body)}</bpmn:process></bpmn:definitions>').encode()


def test_bpmnlint_flags_parallel_branches_that_meet_without_a_gateway_and_nothing_that_runs(tmp_path):
    """bpmnlint's `fake-join` is off (a loop back or the end of a choice runs as drawn); Baton's own rule
    reports only two parallel branches meeting at a step, which would run that step once per branch."""
    assert LINT_MODULES.exists(), "npm packages of the modeller are missing: run `make frontend`"
    cases = {"parallel": _flows(("s", "g"), ("g", "a"), ("g", "b"), ("a", "c"), ("b", "c"), ("c", "e")),
             "implicit": _flows(("s", "a"), ("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e")),
             "choice": _flows(("s", "g"), ("g", "a"), ("g", "b"), ("a", "c"), ("b", "c"), ("c", "e"),
                              split="exclusiveGateway"),
             "loop": _flows(("s", "a"), ("a", "x"), ("x", "a"), ("x", "e"))}
    paths = []
    for name, content in cases.items():
        paths.append(tmp_path / f"{name}.bpmn")
        paths[-1].write_bytes(content)
    run = subprocess.run([shutil.which("node"), str(LINT_CLI), *map(str, paths)], capture_output=True, text=True,
                         timeout=120)
    found = {Path(f).stem: [(r["id"], r["message"]) for r in reports if "parallel-branches-meet" in r["message"]]
             for f, reports in json.loads(run.stdout).items()}
    assert found == {
        "parallel": [("c", "Parallel branches from Step g meet here without a parallel gateway: this step would run "
                           "once per branch (baton/parallel-branches-meet)")],
        "implicit": [("d", "Parallel branches from Step a meet here without a parallel gateway: this step would run "
                           "once per branch (baton/parallel-branches-meet)")],
        "choice": [], "loop": []}


# ---- demo data ---------------------------------------------------------------------------------------------

@pytest.mark.long
def test_demo_loads_everything_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    database.upgrade(url)
    factory = database.connect(url)
    session = factory()
    try:
        logins = demo.load(session)
        names = {u: (p, r) for u, p, r in logins}
        assert names["admin"] == ("admin-demo", [])
        assert names["designer"] == ("designer-demo", ["modeller"])
        for role in library_roles():
            held = [role, "manager"] if role == "marketing manager" else [role]
            assert names[username(role)] == (f"{username(role)}-demo", held)
        assert users.find(session, "marketing_manager").role_names == ["manager", "marketing manager"], \
            "the demo's marketing manager hears of overdue work (BATON_MANAGER_ROLE)"
        assert users.authenticate(session, "admin", "admin-demo") is not None
        assert users.authenticate(session, "seo_strategist", "seo_strategist-demo") is not None
        assert users.find(session, "admin").is_admin
        keys = {p.key for p in definitions.startable(session)}
        assert keys >= set(STEMS) | {"email_nurture_lead"}
        started = session.scalar(select(func.count()).select_from(Instance))
        by_process = {k for k, in session.execute(select(Instance.process_key).distinct())}
        assert len(by_process) >= 6 and started >= 10
        assert session.scalar(select(func.count()).select_from(Instance).where(Instance.status == "failed")) == 0
        open_rows = session.scalars(select(HumanTask).where(HumanTask.state == "open")).all()
        now = clock.now()
        assert any(r.due_at and r.due_at < now for r in open_rows), "some work is overdue"
        assert any(r.due_at and r.due_at > now for r in open_rows), "some work is due later"
        assert len({r.element_id for r in open_rows}) >= 10, "work waits at many different steps"
        completed = {e for (e,) in session.execute(select(HumanTask.element_id).where(HumanTask.state == "completed"))}
        assert len(completed) >= 5, "some steps are done already"

        again = demo.load(session)
        assert again == logins
        assert session.scalar(select(func.count()).select_from(Instance)) == started, "nothing started twice"
        assert session.scalar(select(func.count()).select_from(User)) == len(logins)
    finally:
        session.close()
        factory.kw["bind"].dispose()
