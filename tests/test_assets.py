"""What the browser downloads: fingerprinted static URLs cached for a year, gzip for text, ETags on
diagrams so a page load revalidates instead of fetching again."""
import gzip
import re

from conftest import OPERATOR, PASSWORD, diagram

from engine import definitions, instances


def _signed_in(app, username):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


def test_built_scripts_are_fingerprinted_compressed_and_cached_for_a_year(app, people, session):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    instance = instances.start(session, "campaign_review", {"title": "Assets"}, people["mia"])
    client = _signed_in(app, "mia")
    page = client.get(f"/instances/{instance.id}").get_data(as_text=True)
    (script,) = re.findall(r'src="(/modeller-static/build/viewer\.js\?v=[0-9a-f]{12})"', page)

    plain = client.get(script)
    zipped = client.get(script, headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert len(zipped.get_data()) < len(plain.get_data()) / 2
    for reply in (plain, zipped):
        assert reply.status_code == 200
        assert "immutable" in reply.headers["Cache-Control"] and "max-age=31536000" in reply.headers["Cache-Control"]

    stale = client.get("/modeller-static/build/viewer.js?v=000000000000")
    assert "no-cache" in stale.headers["Cache-Control"], "an old fingerprint is revalidated, never kept for a year"
    again = client.get(script, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""


def test_pages_are_compressed_for_browsers_that_accept_it(app, people):
    client = _signed_in(app, "mia")
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert b"Inbox" in gzip.decompress(page.get_data())
    assert "Content-Encoding" not in client.get("/").headers


def test_a_diagram_is_revalidated_by_its_etag(app, people, session):
    definitions.deploy(session, [("campaign_review.bpmn", diagram("campaign_review.bpmn"))], OPERATOR)
    instance = instances.start(session, "campaign_review", {"title": "ETag"}, people["mia"])
    client = _signed_in(app, "mia")
    first = client.get(f"/instances/{instance.id}/diagram.xml")
    assert first.status_code == 200 and first.headers["ETag"]
    second = client.get(f"/instances/{instance.id}/diagram.xml", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 304 and second.get_data() == b""
    outsider = _signed_in(app, "nobody").get(f"/instances/{instance.id}/diagram.xml",
                                             headers={"If-None-Match": first.headers["ETag"]})
    assert outsider.status_code == 403, "the ETag is checked after who may see the diagram"
