"""Route labels: regex routes (DRF's routers) read like path() templates."""

from __future__ import annotations

import pytest

from errors.routes import route_label
from tests.errors import router_urls

# What DRF's DefaultRouter makes of one ViewSet (test_the_drf_rows_are_the_routers_own checks).
DRF_ROUTE_LABELS = {
    r"^widgets/$": "widgets/",
    r"^widgets\.(?P<format>[a-z0-9]+)/?$": "widgets.<format>",
    r"^widgets/(?P<pk>[^/.]+)/$": "widgets/<pk>/",
    r"^widgets/(?P<pk>[^/.]+)\.(?P<format>[a-z0-9]+)/?$": "widgets/<pk>.<format>",
    "": "/",  # the API root: a path() route, as of DRF 3.15
    "<drf_format_suffix:format>": "<drf_format_suffix:format>",
}
ROUTE_LABELS = {
    **DRF_ROUTE_LABELS,
    # path() routes are already readable.
    "t/drf/raise/<str:kind>": "t/drf/raise/<str:kind>",
    "api/workspaces/<uuid:workspace_id>/": "api/workspaces/<uuid:workspace_id>/",
    "robots.txt": "robots.txt",
    # Routes joined from includes: path() and regex pieces mixed, Django's `^` left inside.
    r"api/widgets/(?P<pk>[^/.]+)/$": "api/widgets/<pk>/",
    r"api/^widgets/(?P<pk>[^/.]+)/$": "api/widgets/<pk>/",
    r"^api/v1/widgets/<int:pk>/parts/(?P<part>\w+)$": "api/v1/widgets/<int:pk>/parts/<part>",
    # Regexes of re_path().
    r"^$": "/",
    r"^a/([0-9]{4})/(\d+)/$": "a/<arg>/<arg>/",
    r"^widgets/(?P<pk>[^/.]+)/?$": "widgets/<pk>",  # SimpleRouter(trailing_slash="/?")
    r"^\.(?P<format>(json|html))/?$": ".<format>",
    r"^articles/(?:page-(?P<page>\d+)/)?$": "articles/page-<page>/",
    r"^static/(?P<path>drf_spectacular_sidecar/.+)$": "static/<path>",
    r"^(?i)reports/\d{4}\-\d{2}\.csv$": r"reports/\d{4}-\d{2}.csv",
    # Groups inside groups, and parentheses that open no group.
    r"^(?P<slug>[a-z]+(?:-[a-z]+)*)/$": "<slug>/",
    r"^(json|html)/$": "<arg>/",
    r"^(?:[a-z]+|\d+)/$": r"[a-z]+|\d+/",
    r"^files/(?:(?P<name>\w+)/)?(?:edit/)?$": "files/<name>/",
    r"^x(?=y)y(?<!z)$": "xy",
    r"^a\(b\)/(?P<q>[()])/$": "a(b)/<q>/",
    r"legacy(/(?P<pk>\d+)/$": "legacy(/<pk>/",  # a "(" that never closes stays
    "a)b(c": "a)b(c",
}


@pytest.mark.parametrize(("route", "label"), ROUTE_LABELS.items())
def test_route_labels_read_like_path_templates(route: str, label: str) -> None:
    assert route_label(route) == label


def test_the_drf_rows_are_the_routers_own() -> None:
    assert [str(p.pattern) for p in router_urls.router.urls] == list(DRF_ROUTE_LABELS)
