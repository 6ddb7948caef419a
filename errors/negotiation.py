"""Who gets the envelope and who gets Django's HTML error page.

API clients (`Accept: application/json`, `*/*`, or no Accept at all) get the JSON envelope. A
browser, whose Accept prefers `text/html`, gets Django's own page for the errors Django renders
itself (404, 403, 400, 500, CSRF failures; in DEBUG the technical pages), so the admin and
server-rendered pages keep working. Paths under ERRORS_JSON_PATH_PREFIXES (an API's `/api/`) are
always JSON, whatever the Accept says. DRF views keep DRF's content negotiation: their errors
come through the exception handler, which always answers with the envelope.
"""

from __future__ import annotations

from django.http import HttpRequest

from .conf import errors_settings

# In order of preference when the client does not mind: JSON first, so `*/*` is an API client.
_OFFERED = ("application/json", "text/html")


def prefers_html(request: HttpRequest | None) -> bool:
    """Whether the error response for `request` should be Django's HTML page, not the envelope."""
    if request is None:
        return False
    if request.path.startswith(errors_settings.json_path_prefixes):
        return False
    if "html" not in request.META.get("HTTP_ACCEPT", ""):
        return False  # the common API case, without parsing the header
    return request.get_preferred_type(_OFFERED) == "text/html"
