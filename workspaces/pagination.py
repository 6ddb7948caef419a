"""Paging of the workspace list: DRF's `LimitOffsetPagination`, its query parameters validated.

DRF reads `limit` and `offset` leniently: a value it cannot use is ignored or clamped. The API
answers one with 400 `validation_error` naming the parameter instead, so both are validated by
`PageInput`, whose errors the `errors` handler renders like any serializer's; DRF then builds
the `count` / `next` / `previous` / `results` page.

The page is read by a function the view passes (the service's), not from a queryset: the
repository is the only code that touches the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from .serializers import DEFAULT_LIMIT, MAX_LIMIT, PageInput


class Page(Protocol):
    """One page of a list and the length of the whole list."""

    @property
    def items(self) -> Sequence[Any]: ...

    @property
    def count(self) -> int: ...


class ValidatedLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=` (1–100, default 20) and `?offset=` (≥ 0); a bad value is a 400, not ignored."""

    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int:
        return int(self._query(request)["limit"])

    def get_offset(self, request: Request) -> int:
        return int(self._query(request)["offset"])

    def paginate(self, request: Request, fetch: Callable[..., Page]) -> Sequence[Any]:
        """The items of the page the request asks for; `fetch(limit=, offset=)` reads it."""
        self.request = request
        query = self._query(request)
        self.limit, self.offset = query["limit"], query["offset"]
        page = fetch(limit=self.limit, offset=self.offset)
        self.count = page.count
        return page.items

    @staticmethod
    def _query(request: Request) -> dict[str, Any]:
        params = PageInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        return dict(params.validated_data)
