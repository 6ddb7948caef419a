"""Conditional requests (RFC 9110, section 13): a resource's ETag from its version, If-Match and
If-None-Match. The write itself compares the version in the database (README, "Safe writes")."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from errors.exceptions import AppException

# Methods whose If-Match is read, and that SAFEWRITES_REQUIRE_IF_MATCH requires it on.
CONDITIONAL_METHODS = frozenset({"PUT", "PATCH", "DELETE"})


def etag(version: int) -> str:
    """The strong ETag of a resource's version: `"3"`."""
    return f'"{version}"'


class PreconditionFailed(AppException):
    """412: If-Match names no version that is current; the answer gives the current one."""

    default_code = "precondition_failed"

    def __init__(self, current_version: int) -> None:
        current = etag(current_version)
        super().__init__(details={"current_etag": current})
        self.headers["ETag"] = current


class PreconditionRequired(AppException):
    """428: the service requires If-Match on this write (SAFEWRITES_REQUIRE_IF_MATCH)."""

    default_code = "precondition_required"


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def expected_versions(request: Request) -> frozenset[int] | None:
    """The versions a PUT, PATCH or DELETE may change, from its If-Match.

    None: no If-Match (any version; 428 instead when SAFEWRITES_REQUIRE_IF_MATCH is on) or `*`.
    Weak or foreign tags never match (RFC 9110's strong comparison): they add no version.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if request.method in CONDITIONAL_METHODS and require_if_match():
            raise PreconditionRequired()
        return None
    tags = _tags(header)
    if "*" in tags:
        return None
    return frozenset(int(tag[1:-1]) for tag in tags if _is_version_tag(tag))


def check(expected: frozenset[int] | None, current_version: int) -> None:
    """Raise `PreconditionFailed` unless the current version is one the request expects."""
    if expected is not None and current_version not in expected:
        raise PreconditionFailed(current_version)


def not_modified(request: Request, version: int) -> Response | None:
    """304 for a GET whose If-None-Match names the current version (weak comparison), else None."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return None
    current = etag(version)
    tags = {tag.removeprefix("W/") for tag in _tags(header)}
    if "*" in tags or current in tags:
        return Response(status=304, headers={"ETag": current})
    return None


def require_if_match() -> bool:
    """SAFEWRITES_REQUIRE_IF_MATCH: PUT, PATCH and DELETE without If-Match get 428."""
    return bool(getattr(settings, "SAFEWRITES_REQUIRE_IF_MATCH", False))


def _is_version_tag(tag: str) -> bool:
    # At most 18 digits: every such number fits the database's 64-bit integer.
    inner = tag[1:-1]
    quoted = len(tag) > 2 and tag[0] == tag[-1] == '"'
    return quoted and len(inner) <= 18 and inner.isascii() and inner.isdigit()
