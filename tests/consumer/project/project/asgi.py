"""ASGI config of the consumer project (uvicorn and daphne serve `project.asgi:application`).

The body limit wraps Django's ASGI app, as README says: Django's handler reads a whole body
before any of its middleware runs.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from errors.asgi import BodyLimitMiddleware  # noqa: E402

application = BodyLimitMiddleware(get_asgi_application())
