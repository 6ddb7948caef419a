"""cortex's URLs plus `bench/bare/`: the overhead stacks' 200 view without authentication,
permission, throttle or database: what a DRF answer costs here (daphne, middleware, rendering)."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.permissions import AllowAny

from bench.stacks.urls import OkView

# A root URLconf's error views are its own: cortex's.
from cortex.urls import handler400, handler403, handler404, handler500  # noqa: F401
from cortex.urls import urlpatterns as cortex_urlpatterns

bare = OkView.as_view(authentication_classes=[], permission_classes=[AllowAny], throttle_classes=[])
urlpatterns: list[URLPattern | URLResolver] = [*cortex_urlpatterns, path("bench/bare/", bare)]
