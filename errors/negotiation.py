"""Who gets the envelope, problem details or an HTML page, in which language (docs/handling.md)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.http.request import MediaType
from django.utils import translation

from .conf import errors_settings

PROBLEM_CONTENT_TYPE = "application/problem+json"
LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"

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


def wants_problem_details(accept: str | None) -> bool:
    """Whether an error should be problem details (ERRORS_PROBLEM_DETAILS or the Accept)."""
    if errors_settings.problem_details_default:
        return True
    if not accept or PROBLEM_CONTENT_TYPE not in accept.lower():
        return False  # the common case, without parsing the header
    for token in accept.split(","):
        media_type = MediaType(token)
        full_type = f"{media_type.main_type}/{media_type.sub_type}".lower()
        if full_type == PROBLEM_CONTENT_TYPE and media_type.quality > 0:
            return True
    return False


def negotiates_language() -> bool:
    """Whether the project answers in the client's language (LocaleMiddleware, USE_I18N)."""
    return bool(settings.USE_I18N) and LOCALE_MIDDLEWARE in settings.MIDDLEWARE


def response_language(
    request: HttpRequest | None, accept_language: str | None = None
) -> str | None:
    """The language of an error answer where the project negotiates one (LocaleMiddleware)."""
    if not negotiates_language():
        return None
    language = getattr(request, "LANGUAGE_CODE", None)  # LocaleMiddleware has chosen
    if language is not None:
        return str(language)
    if request is None:  # an ASGI answer: the header is all there is
        request = HttpRequest()
        request.META["HTTP_ACCEPT_LANGUAGE"] = accept_language or ""
    return translation.get_language_from_request(request)
