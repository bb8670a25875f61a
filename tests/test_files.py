"""Files attached through forms (`type="file"` fields): the designer's images reach the approver as
thumbnails, files are judged by their bytes, a refused form keeps nothing, and a file opens only for
those who may see its work."""
import base64
import hashlib
import re
import struct
import zlib
from io import BytesIO

import pytest
from conftest import OPERATOR, PASSWORD
from lxml import html
from sqlalchemy import func, select
from test_pages import Browser

from engine import definitions, instances
from engine.models import StoredFile


def png(colour=b"\xff\x00\x00", pad=0):
    """A real 1×1 PNG (Chromium draws it), optionally padded with a text chunk to a size."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + (chunk(b"tEXt", b"pad\x00" + b"x" * pad) if pad else b"")
            + chunk(b"IDAT", zlib.compress(b"\x00" + colour)) + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64


def b64(name, content):
    return {"name": name, "content": base64.b64encode(content).decode()}


def _assets_bpmn(maxfiles="3", start_file=False):
    start_form = """<bpmn:extensionElements><camunda:formData>
        <camunda:formField id="brief_doc" label="Brief" type="file" />
      </camunda:formData></bpmn:extensionElements>""" if start_file else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="Defs_assets" targetNamespace="http://baton.test">
  <bpmn:process id="visual_assets" name="Visual assets" isExecutable="true">
    <bpmn:startEvent id="Start_assets">{start_form}</bpmn:startEvent>
    <bpmn:userTask id="Task_deliver" name="Deliver the images" camunda:candidateGroups="designer">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="visuals" label="Images" type="file">
          <camunda:validation>
            <camunda:constraint name="required" />
            <camunda:constraint name="accept" config="image/*" />
            <camunda:constraint name="maxsize" config="1" />
            <camunda:constraint name="maxfiles" config="{maxfiles}" />
          </camunda:validation>
        </camunda:formField>
        <camunda:formField id="draft" label="Draft copy" type="file">
          <camunda:validation><camunda:constraint name="accept" config=".pdf,.docx,text/plain" /></camunda:validation>
        </camunda:formField>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="Task_approve" name="Approve the images" camunda:candidateGroups="manager">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="approved" label="Approved" type="boolean" />
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="Gateway_ok" default="Flow_again" />
    <bpmn:endEvent id="End_assets" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start_assets" targetRef="Task_deliver" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_deliver" targetRef="Task_approve" />
    <bpmn:sequenceFlow id="F3" sourceRef="Task_approve" targetRef="Gateway_ok" />
    <bpmn:sequenceFlow id="Flow_done" sourceRef="Gateway_ok" targetRef="End_assets">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">approved == True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_again" sourceRef="Gateway_ok" targetRef="Task_deliver" />
  </bpmn:process>
</bpmn:definitions>""".encode()


def _started(api, **kw):
    assert api["ed"].deploy(("assets.bpmn", _assets_bpmn(**kw))).status_code == 201
    started = api["mia"].post("/processes/visual_assets/instances", json={"data": {}})
    assert started.status_code == 201, started.get_json()
    return started.get_json()["id"]


def _task(api, who, element_id):
    return next(t for t in api[who].get("/tasks").get_json() if t["element_id"] == element_id)


def _stored(session):
    session.rollback()   # a fresh look at what the app committed
    return session.scalar(select(func.count()).select_from(StoredFile))


def test_the_designers_images_reach_the_approver_as_thumbnails_and_only_those_in_the_work_open_them(app, api, session):
    _started(api)
    deliver = _task(api, "dora", "Task_deliver")
    dora = Browser(app, "dora")
    page = html.fromstring(dora.get(f"/tasks/{deliver['id']}").data)
    form = page.xpath('//form[contains(@class, "task-form")]')[0]
    assert form.get("enctype") == "multipart/form-data"
    box = form.xpath('.//input[@name="visuals"]')[0]
    assert (box.get("type"), box.get("accept"), "multiple" in box.attrib, "required" in box.attrib) == \
        ("file", "image/*", True, True), "the rules are on the box before anyone picks a file"
    assert page.xpath('//p[@id="f-visuals-hint"]/text()') == \
        ["Required. Up to 3 files of at most 1 MB each: PNG image, JPEG image, GIF image or WebP image."]

    done = dora.post(f"/tasks/{deliver['id']}", {"action": "complete",
                                                  "visuals": [(BytesIO(png()), "hero.png"), (BytesIO(png(b"\x00\x00\xff")), "banner.png")],
                                                  "draft": (BytesIO(PDF), "draft.pdf")})
    assert done.status_code == 302, done.get_data(as_text=True)[:3000]

    approve = _task(api, "mia", "Task_approve")
    page = Browser(app, "mia").get(f"/tasks/{approve['id']}")
    tree = html.fromstring(page.data)
    thumbs = tree.xpath('//section[@class="earlier"]//img[@class="thumb"]')
    assert [t.get("alt") for t in thumbs] == ["hero.png", "banner.png"]
    pdf_link = tree.xpath('//section[@class="earlier"]//a[text()="draft.pdf"]')[0]
    assert "PDF" in pdf_link.getparent().text_content()

    mia = Browser(app, "mia")
    image = mia.get(thumbs[0].get("src"))
    assert image.status_code == 200 and image.data == png()
    assert image.mimetype == "image/png" and image.headers["Content-Disposition"].startswith("inline")
    assert image.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in image.headers["Content-Security-Policy"]
    draft = mia.get(pdf_link.get("href"))
    assert draft.data == PDF and draft.headers["Content-Disposition"].startswith("attachment")

    refs = api["mia"].get(f"/instances/{approve['instance_id']}").get_json()["data"]["visuals"]
    assert [(r["name"], r["type"], r["size"]) for r in refs] == [("hero.png", "image/png", len(png())),
                                                                ("banner.png", "image/png", len(png(b"\x00\x00\xff")))]
    assert api["mia"].get(f"/files/{refs[0]['file_id']}").data == png()
    assert api["walt"].get(f"/files/{refs[0]['file_id']}").status_code == 403, "walt has no part in this work"
    assert Browser(app, "walt").get(thumbs[0].get("src")).status_code == 403
    assert api["mia"].get("/files/999999").status_code == 404
    assert api["mia"].get(f"/files/{2 ** 70}").status_code == 404, "an id no column holds is simply not there"


def test_files_are_judged_by_their_bytes_and_a_refused_form_keeps_none_of_them(api, session):
    _started(api)
    deliver = _task(api, "dora", "Task_deliver")
    cases = [
        ({"visuals": [b64("hero.png", ELF)]}, "visuals", "cannot take hero.png: it is no kind of file Baton keeps"),
        ({"visuals": [b64("hero.png", PDF)]}, "visuals",
         "cannot take hero.png: it is a PDF, not PNG image, JPEG image, GIF image or WebP image"),
        ({"visuals": [b64("big.png", png(pad=1024 * 1024))]}, "visuals", "cannot take big.png: it is larger than 1 MB"),
        ({"visuals": [b64(f"{n}.png", png()) for n in range(4)]}, "visuals", "takes at most 3 files"),
        ({"visuals": [{"name": "x.png", "content": "not base64!"}]}, "visuals", "cannot take x.png: its content is not base64"),
        ({"visuals": [b64("ok.png", png())], "draft": [b64("draft.png", png())]}, "draft",
         "cannot take draft.png: it is a PNG image, not PDF, Word document or text file"),
        ({"draft": [b64("draft.pdf", PDF)]}, "visuals", "is required"),
    ]
    for data, field, message in cases:
        refused = api["dora"].post(f"/tasks/{deliver['id']}/complete", json={"data": data})
        assert refused.status_code == 422, (data.keys(), refused.get_json())
        errors = {e["field"]: e["message"] for e in refused.get_json()["errors"]}
        assert errors.get(field, "").startswith(message), errors
    assert _stored(session) == 0, "a refused form stores no file"
    assert api["dora"].get(f"/tasks/{deliver['id']}").get_json()["state"] == "open"


def test_a_revision_keeps_the_files_attached_before_and_cannot_borrow_another_works_files(app, api, session):
    first = _started(api)
    deliver = _task(api, "dora", "Task_deliver")
    assert api["dora"].post(f"/tasks/{deliver['id']}/complete",
                            json={"data": {"visuals": [b64("hero.png", png())]}}).status_code == 200
    approve = _task(api, "mia", "Task_approve")
    assert api["mia"].post(f"/tasks/{approve['id']}/complete", json={"data": {"approved": False}}).status_code == 200

    again = _task(api, "dora", "Task_deliver")
    page = html.fromstring(Browser(app, "dora").get(f"/tasks/{again['id']}").data)
    box = page.xpath('//input[@name="visuals"]')[0]
    assert "required" not in box.attrib, "the images from the first round still count"
    assert page.xpath('//form[contains(@class, "task-form")]//img[@class="thumb"]/@alt') == ["hero.png"]
    kept = Browser(app, "dora").post(f"/tasks/{again['id']}", {"action": "complete"})
    assert kept.status_code == 302, kept.get_data(as_text=True)[:2000]
    data = api["mia"].get(f"/instances/{first}").get_json()["data"]
    assert [r["name"] for r in data["visuals"]] == ["hero.png"]

    other = api["mia"].post("/processes/visual_assets/instances", json={"data": {}}).get_json()["id"]
    theirs = next(t for t in api["dora"].get("/tasks").get_json() if t["instance_id"] == other)
    huge = api["dora"].post(f"/tasks/{theirs['id']}/complete", json={"data": {"visuals": [{"file_id": 2 ** 62}]}})
    assert huge.status_code == 422
    borrowed = api["dora"].post(f"/tasks/{theirs['id']}/complete",
                                json={"data": {"visuals": [{"file_id": data["visuals"][0]["file_id"]}]}})
    assert borrowed.status_code == 422
    assert borrowed.get_json()["errors"] == [{"field": "visuals",
                                              "message": f"file {data['visuals'][0]['file_id']} is not one of this work's files"}]
    assert _stored(session) == 1


def test_with_a_file_folder_the_bytes_live_on_disk_once_and_are_served_from_there(api, session, tmp_path, monkeypatch):
    monkeypatch.setenv("BATON_FILE_FOLDER", str(tmp_path / "files"))
    assert api["ed"].deploy(("assets.bpmn", _assets_bpmn(start_file=True))).status_code == 201
    started = api["mia"].post("/processes/visual_assets/instances",
                              json={"data": {"brief_doc": [b64("brief.txt", b"Spring sale: 20% off")]}})
    assert started.status_code == 201, started.get_json()
    ref = started.get_json()["data"]["brief_doc"][0]
    assert (ref["name"], ref["type"]) == ("brief.txt", "text/plain")
    digest = hashlib.sha256(b"Spring sale: 20% off").hexdigest()
    assert (tmp_path / "files" / digest[:2] / digest).read_bytes() == b"Spring sale: 20% off"
    session.rollback()
    row = session.get(StoredFile, ref["file_id"])
    assert row.content is None and row.task_id is None and row.uploaded_by == "mia"
    served = api["mia"].get(f"/files/{ref['file_id']}")
    assert served.data == b"Spring sale: 20% off" and served.headers["Content-Disposition"].startswith("attachment")


def test_a_file_field_with_impossible_limits_is_refused_at_deploy_naming_it(api):
    refused = api["ed"].deploy(("assets.bpmn", _assets_bpmn(maxfiles="50")))
    assert refused.status_code == 422
    problem = refused.get_json()["errors"][0]
    assert problem["element_id"] == "Task_deliver"
    assert "file field 'visuals': maxfiles must be a whole number from 1 to 20" in problem["message"]


@pytest.mark.browser
@pytest.mark.same_on_any_database
def test_in_chromium_the_designer_picks_images_and_the_approver_sees_them_drawn(browser, live, session, people, tmp_path):
    from live import screenshot, sign_in
    from playwright.sync_api import expect
    definitions.deploy(session, [("assets.bpmn", _assets_bpmn())], OPERATOR)
    instances.start(session, "visual_assets", {}, people["mia"])
    hero, draft = tmp_path / "hero.png", tmp_path / "notes.txt"
    hero.write_bytes(png())
    draft.write_bytes(b"Headline: Spring is here")
    dora = sign_in(browser, live.url, "dora", PASSWORD)
    dora.goto("/")
    dora.get_by_role("link", name="Deliver the images", exact=True).click()
    expect(dora.locator("#f-visuals-hint")).to_contain_text("Up to 3 files of at most 1 MB each")
    dora.set_input_files("#f-visuals", str(draft))   # not an image: refused by the server, by name
    dora.get_by_role("button", name="Complete").click()
    expect(dora.locator("#f-visuals-error")).to_have_text(
        "Images cannot take notes.txt: it is a text file, not PNG image, JPEG image, GIF image or WebP image")
    expect(dora.locator(".flash-warning")).to_contain_text("choose them again")
    dora.set_input_files("#f-visuals", str(hero))
    dora.set_input_files("#f-draft", str(draft))
    dora.get_by_role("button", name="Complete").click()
    dora.wait_for_url(re.compile(r"/$"))

    mia = sign_in(browser, live.url, "mia", PASSWORD)
    mia.goto("/")
    mia.get_by_role("link", name="Approve the images", exact=True).click()
    thumb = mia.locator(".earlier img.thumb")
    expect(thumb).to_have_attribute("alt", "hero.png")
    expect(thumb).to_have_js_property("naturalWidth", 1)   # the browser drew the image it was served
    expect(mia.locator(".earlier a", has_text="notes.txt")).to_be_visible()
    screenshot(mia, "task-with-files")
    assert not mia.console_errors and not dora.console_errors
