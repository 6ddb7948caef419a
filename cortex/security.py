"""Security headers on every response of the service, and a Content-Security-Policy on its pages.

`SecurityHeadersMiddleware` goes first in MIDDLEWARE, so that it also sees the responses
`errors.middleware.CorrelationIdMiddleware` makes itself (a 413, the fallback envelope) and the
final content type of every error page. On each response it sets, unless the view did:

- `X-Frame-Options` from Django's X_FRAME_OPTIONS (`DENY`), except for views decorated with
  `xframe_options_exempt`, as Django's XFrameOptionsMiddleware does. That middleware is not
  used: like every old-style middleware it costs a thread hop per request under ASGI, and
  `manage.py check --deploy` (security.W002) is silenced in the settings for it.
- `X-Content-Type-Options: nosniff` (SECURE_CONTENT_TYPE_NOSNIFF). SecurityMiddleware sets it on
  what passes through it; this covers the responses made outside it.
- `Content-Security-Policy` on `text/html` responses (Swagger UI at /api/docs/, Django's error
  pages for browsers): `POLICY`, which loads scripts, styles and images from the service itself
  only, frames nothing and may be framed by nothing. Inline scripts and styles run only when
  their SHA-256 is listed: `INLINE_SOURCES` names the templates of the pages the service serves,
  and the hashes of their static inline blocks are computed from those templates, so they follow
  the installed Django and drf-spectacular. A block built from template variables cannot be
  hashed ahead and is blocked; Swagger UI's init script is one, so /api/docs/ is drf-spectacular's
  split view, which serves it as a file (cortex/urls.py).

The event stream (`/api/events/`) is a Channels consumer, not a Django view: it adds
`security_headers()` to its responses itself.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from errors.middleware import SyncAndAsyncMiddleware

# Directives of the policy of every HTML page; the inline hashes are added to script-src and
# style-src. `data:` images: swagger-ui.css draws its icons with data: URLs.
POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "connect-src": ("'self'",),  # Swagger UI fetches the schema and tries requests out
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}

# Templates whose static inline <script> and <style> blocks are allowed by hash: "django:<name>"
# is one of Django's built-in pages (django/views/templates), anything else a template name.
INLINE_SOURCES = (
    "drf_spectacular/swagger_ui.html",  # its <style>
    "django:csrf_403.html",  # the CSRF failure page browsers get
)
# Django's technical pages, shown only with DEBUG. technical_500.html's "toggle" links are
# inline onclick handlers built from template variables: they stay blocked.
DEBUG_INLINE_SOURCES = ("django:technical_500.html", "django:technical_404.html")

# Django 6.1's built-in pages open their blocks with `<style {% csp_nonce_attr %}>`, which
# renders as an attribute (empty without Django's CSP middleware), so attributes are read too:
# a `<script src>` is not inline.
_INLINE_BLOCK = re.compile(r"<(script|style)(\s[^>]*)?>(.*?)</\1>", re.DOTALL)


def security_headers() -> list[tuple[bytes, bytes]]:
    """The headers every response carries, for responses that do not come from Django (ASGI)."""
    headers = [(b"x-frame-options", str(settings.X_FRAME_OPTIONS).encode("latin-1"))]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    return headers


def inline_hashes(source: str) -> dict[str, list[str]]:
    """CSP hash sources of the static inline blocks of a template, by element ("script", ...)."""
    found: dict[str, list[str]] = {"script": [], "style": []}
    for element, attributes, body in _INLINE_BLOCK.findall(source):
        if "src=" in attributes:
            continue
        if "{{" in body or "{%" in body:
            continue  # rendered differently per request: no hash can be known ahead
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        found[element].append(f"'sha256-{digest}'")
    return found


def template_source(name: str) -> str:
    """The text of template `name` ("django:<file>" for one of Django's built-in pages)."""
    if name.startswith("django:"):
        from django.views.debug import builtin_template_path

        return Path(builtin_template_path(name.removeprefix("django:"))).read_text("utf-8")
    from django.template.loader import get_template

    return str(get_template(name).template.source)  # type: ignore[attr-defined]


def build_policy(debug: bool) -> str:
    """The Content-Security-Policy header value of HTML responses."""
    directives = {name: list(sources) for name, sources in POLICY.items()}
    for name in INLINE_SOURCES + (DEBUG_INLINE_SOURCES if debug else ()):
        for element, hashes in inline_hashes(template_source(name)).items():
            allowed = directives[f"{element}-src"]
            allowed.extend(h for h in hashes if h not in allowed)
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class SecurityHeadersMiddleware(SyncAndAsyncMiddleware):
    """X-Frame-Options and nosniff on every response, a CSP on HTML ones; sync and async."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        # Built once, when the server starts: a template that cannot be read fails start-up,
        # not a request.
        self.policy = build_policy(bool(settings.DEBUG))

    def call(self, request: HttpRequest) -> HttpResponseBase:
        return self.secure(self.get_response(request))

    async def acall(self, request: HttpRequest) -> HttpResponseBase:
        return self.secure(await self.get_response(request))

    def secure(self, response: HttpResponseBase) -> HttpResponseBase:
        """Add the headers the view did not set itself."""
        headers = response.headers
        if not getattr(response, "xframe_options_exempt", False):
            headers.setdefault("X-Frame-Options", str(settings.X_FRAME_OPTIONS))
        if settings.SECURE_CONTENT_TYPE_NOSNIFF:
            headers.setdefault("X-Content-Type-Options", "nosniff")
        media_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media_type == "text/html":
            headers.setdefault("Content-Security-Policy", self.policy)
        return response
