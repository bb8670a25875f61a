"""Demo data: the shipped workflows in diagrams/, a user for every role they use, and instances in
flight at various steps, some of them overdue.

`load(session)` is idempotent: users that exist are kept, identical diagrams are not deployed again
(deploy returns the existing definition), and a demo instance is started only if no instance of its
process with its label exists yet. Logins are `<role with underscores>` / `<username>-demo`, plus
`admin` (admin) and `designer` (role modeller).
"""
import os
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from modeller import reader
from modeller.elements import split_names
from modeller.reader import BPMN_NS, CAMUNDA_NS

from . import clock, definitions, instances, messages, tasks, timers, users
from .errors import NotFound
from .models import HumanTask, Instance
from .notifications import manager_role

DIAGRAMS = Path(os.environ.get("BATON_DIAGRAMS", Path(__file__).resolve().parent.parent / "diagrams"))
PASSWORD_SUFFIX = "-demo"   # noqa: S105 - the demo's published logins, not a secret
MANAGING_ROLE = "marketing manager"   # (as Baton reads role names) the demo role whose user also holds the manager role


def password_for(username):
    return f"{username}{PASSWORD_SUFFIX}".ljust(users.MIN_PASSWORD, "0")


def username_for(role):
    return role.replace(" ", "_")


def diagram_files(folder=None):
    return sorted(Path(folder or DIAGRAMS).glob("*.bpmn"))


def roles_in(files):
    """Every role the diagrams hand work to: lane names and candidate groups, as Baton reads them."""
    roles = set()
    for path in files:
        root = reader.read(path.name, path.read_bytes()).root
        for lane in root.iter(f"{{{BPMN_NS}}}lane"):
            roles.update(split_names(lane.get("name")))
        for element in root.iter():
            roles.update(split_names(element.get(f"{{{CAMUNDA_NS}}}candidateGroups")))
    return sorted(roles)


def _user(session, username, roles, admin=False):
    """The demo user, created if missing; one that exists keeps its password and gains any demo role it lacks."""
    try:
        user = users.find(session, username)
    except NotFound:
        return users.create(session, username, password_for(username), roles=roles, admin=admin)
    missing = set(users.normalise_roles(roles)) - set(user.role_names)
    return users.update(session, username, roles=[*user.role_names, *missing]) if missing else user


def _scenarios(today):
    """(process, start data, days ago, steps) per demo instance; a step is (element id, data), or
    ("message", name, correlation, data), or ("timers",) to fire the instance's due timers now."""
    day = timedelta(days=1)

    def iso(days):
        return (today + days * day).isoformat()

    return [
        ("content_calendar", {"title": "How to plan a content calendar", "publish_date": iso(20),
                              "topic": "Content operations"}, 12, [
            ("Task_generate_idea", {"idea": "A step-by-step guide to a quarterly content calendar",
                                    "target_audience": "Marketing managers"}),
            ("Task_keyword_research", {"primary_keyword": "content calendar", "search_volume": 14800})]),
        ("content_calendar", {"title": "SEO basics for marketers", "publish_date": iso(12),
                              "topic": "SEO"}, 20, [
            ("Task_generate_idea", {"idea": "The five SEO habits every marketer needs"}),
            ("Task_keyword_research", {"primary_keyword": "seo basics", "search_volume": 9900}),
            ("Task_create_outline", {"outline_url": "https://docs.example.com/seo-outline"}),
            ("Task_seo_approve_outline", {"seo_approved": True}),
            ("Task_stakeholder_approve_outline", {"stakeholder_approved": True}),
            ("Task_write_draft", {"draft_url": "https://docs.example.com/seo-draft", "word_count": 1650})]),
        ("content_calendar", {"title": "Our spring product update", "publish_date": iso(45),
                              "topic": "Product news"}, 0, []),
        ("email_nurture", {"title": "The B2B email playbook", "topic": "Email marketing for B2B SaaS",
                           "launch_date": iso(30)}, 2, [
            ("Task_schedule_ebook", {"ebook_brief": "Why email still wins in B2B, for busy CMOs"})]),
        ("email_nurture_lead", {"title": "Ana Lopez", "email": "ana.lopez@example.com", "company": "Acme",
                                "ebook": "The B2B email playbook", "ebook_url": "https://example.com/playbook.pdf"},
         0, []),
        ("email_nurture_lead", {"title": "Ben Okafor", "email": "ben.okafor@example.com", "company": "Globex",
                                "ebook": "The B2B email playbook", "ebook_url": "https://example.com/playbook.pdf"},
         1, [("message", "ebook_downloaded", {"email": "ben.okafor@example.com"}, {"downloaded_at": iso(0)})]),
        ("email_nurture_lead", {"title": "Chloe Martin", "email": "chloe.martin@example.com", "company": "Initech",
                                "ebook": "The B2B email playbook", "ebook_url": "https://example.com/playbook.pdf"},
         4, [("timers",)]),
        ("lead_to_cash", {"title": "Northwind Traders", "contact_email": "buyer@northwind.example.com",
                          "lead_source": "event"}, 20, [
            ("Task_qualify_lead", {"lead_score": 78, "sales_ready": True}),
            ("Task_contact_lead", {"customer_need": "Campaign support for two product launches"})]),
        ("lead_to_cash", {"title": "Contoso Ltd", "contact_email": "finance@contoso.example.com",
                          "lead_source": "referral"}, 30, [
            ("Task_qualify_lead", {"lead_score": 91, "sales_ready": True}),
            ("Task_contact_lead", {"customer_need": "Monthly SEO retainer"}),
            ("Task_close_deal", {"deal_outcome": "won", "deal_value": 18000}),
            ("Task_issue_invoice", {"invoice_number": "INV-2041", "invoice_amount": 18000,
                                    "payment_due": iso(-3)})]),
        ("lead_to_cash", {"title": "Fabrikam", "contact_email": "info@fabrikam.example.com",
                          "lead_source": "website"}, 0, []),
        ("paid_media_campaign", {"title": "Spring webinar promotion", "budget": 5000, "flight_start": iso(10)}, 5, [
            ("Task_create_campaign", {"objective": "conversions", "platform": "LinkedIn"})]),
        ("paid_media_campaign", {"title": "Brand awareness Q2", "budget": 12000, "flight_start": iso(21)}, 1, [
            ("Task_create_campaign", {"objective": "followers", "platform": "Instagram"}),
            ("Task_define_audience", {"audience": "Design leads, 25-45, EU", "audience_size": 450000}),
            ("Task_build_ad_set", {"ad_count": 4, "placements": "feed, stories"})]),
        ("employee_onboarding", {"title": "Sam Carter", "personal_email": "sam.carter@example.net",
                                 "job_title": "Content designer", "start_date": iso(7), "work_location": "remote"},
         6, [("Task_enter_employee_data", {"employee_id": "E-1042", "contract_type": "permanent"})]),
        ("client_onboarding", {"title": "Bluebird Bakery", "client_email": "owner@bluebird.example.com",
                               "services": "Social media management", "deposit_amount": 3000}, 3, [
            ("Task_create_client_accounts", {"project_url": "https://pm.example.com/p/bluebird"}),
            ("Task_send_contract", {"contract_url": "https://docs.example.com/bluebird-contract"}),
            ("Task_record_client_answer", {"contract_answer": "signed"}),
            ("Task_send_deposit_invoice", {"invoice_number": "INV-2042"})]),
        ("client_onboarding", {"title": "Harbor Yoga", "client_email": "hello@harbor.example.com",
                               "services": "Website and SEO", "deposit_amount": 5000}, 1, [
            ("Task_create_client_accounts", {"project_url": "https://pm.example.com/p/harbor"})]),
        ("type_ad_hoc", {"title": "Summer sale ads", "problem": "Click-through rate halved since Monday"}, 2, [
            ("Task_choose_next_step", {"next_step": "analyse"})]),
        ("type_production", {"title": "Corner Cafe", "quantity": 10, "unit_price": 8, "express": False}, 0, []),
        ("type_production", {"title": "Hotel Aurora", "quantity": 120, "unit_price": 9, "express": True}, 1, []),
        ("type_administrative", {"title": "Laptop for the new designer", "amount": 1900,
                                 "supplier": "Office Direct", "reason": "New hire starts next week"}, 3, []),
        ("type_collaborative", {"title": "Baton 2.0", "launch_date": iso(25)}, 1, [
            ("Task_write_launch_brief", {"launch_brief": "https://docs.example.com/baton-2-brief"})]),
        ("type_transactional", {"title": "Customer summit", "event_date": iso(90), "guests": 120}, 2, [
            ("Task_book_venue", {"venue_booked": True, "venue_reference": "HALL-7"})]),
    ]


def _start_role(session, key):
    step = instances.start_step_of(session, definitions.latest(session, key))
    return step["roles"][0] if step and step["roles"] else None


STEP_GAP = timedelta(minutes=20)


def _run(session, actors, admin, process, data, steps, now):
    """Start one instance at the (frozen) current time and take its steps, STEP_GAP apart."""
    instance = instances.start(session, process, data, actors.get(_start_role(session, process), admin))
    for step in steps:
        clock.travel(clock.now() + STEP_GAP)
        if step[0] == "message":
            messages.deliver(session, admin, step[1], step[2], step[3])
        elif step[0] == "timers":
            timers.fire_instance(session, instance.id, now)
        else:
            element, values = step
            row = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                         HumanTask.element_id == element, HumanTask.state == "open"))
            if row is None:
                raise RuntimeError(f"demo: {process} {data['title']!r} has no open {element}")
            tasks.complete(session, row.id, actors.get(row.roles[0], admin) if row.roles else admin, values)
    return instance


def load(session, folder=None):
    """Deploy every diagram, create the demo users and start the demo instances; return the logins
    as [(username, password, roles)]."""
    files = diagram_files(folder)
    roles = roles_in(files)
    logins = [("admin", password_for("admin"), []), ("designer", password_for("designer"), ["modeller"])]
    held = {role: [role, manager_role()] if role == MANAGING_ROLE else [role] for role in roles}
    logins += [(username_for(role), password_for(username_for(role)), held[role]) for role in roles]
    admin = users.actor(_user(session, "admin", [], admin=True))
    _user(session, "designer", ["modeller"])
    actors = {role: users.actor(_user(session, username_for(role), held[role])) for role in roles}

    deployed = set()
    for path in files:
        definition, _ = definitions.deploy(session, [(path.name, path.read_bytes())], admin)
        deployed.update(p.key for p in definition.processes if p.executable)

    now = clock.now()
    for process, data, days_ago, steps in _scenarios(now.date()):
        if process not in deployed:   # a folder without that diagram
            continue
        exists = session.scalar(select(Instance.id).where(Instance.process_key == process,
                                                          Instance.label == data["title"]).limit(1))
        if exists is not None:
            continue
        # started in the past, so deadlines counted from then have passed; the last step ends before now
        with clock.frozen_at(now - timedelta(days=days_ago) - STEP_GAP * (len(steps) + 1)):
            _run(session, actors, admin, process, data, steps, now)
    return logins
