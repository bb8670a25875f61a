"""Every reply the API tests receive is checked against the API's OpenAPI description (`web/openapi.yaml`),
so the README's API table, the description and the code cannot drift apart."""
import functools

from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from web.api import description


@functools.cache
def _openapi():
    spec = {**description(), "servers": [{"url": "http://localhost/api/v1"}]}   # the test client's host
    return OpenAPI.from_dict(spec, config=Config(server_base_url="http://localhost/api/v1"))


class _Asked:
    """The request as openapi-core needs it to find the operation (the body is not read: it was sent already)."""

    def __init__(self, request):
        self.host_url, self.path, self.method = "http://localhost", request.path, request.method.lower()
        self.parameters = RequestParameters(query=ImmutableMultiDict(request.args), header=Headers(request.headers),
                                            cookie=ImmutableMultiDict(request.cookies), path={})
        self.body, self.content_type = None, request.content_type or ""

    @property
    def full_url_pattern(self):
        return self.host_url + self.path


def check(response):
    """Raise if `response` (a Flask test client reply to an /api/v1 call) breaks the description."""
    request = response.request
    if not request.path.startswith("/api/v1/"):
        return response
    try:
        _openapi().validate_response(_Asked(request), WerkzeugOpenAPIResponse(response))
    except Exception as error:
        detail = getattr(error, "__cause__", None) or error
        raise AssertionError(f"{request.method} {request.full_path} → {response.status_code} breaks the API description "
                             f"web/openapi.yaml (describe every API call and reply there): {error}: {detail}\n{response.get_data(as_text=True)[:500]}") from error
    return response
