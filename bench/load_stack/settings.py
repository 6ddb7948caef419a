"""Settings of bench/load.py's server: cortex's, with the URLconf that adds the bare view.

Everything else (middleware, DRF, database, logging) comes from the environment exactly as it
does for the service, so the bare view and the workspaces API run in the same stack.
"""

from cortex.settings import *  # noqa: F403

ROOT_URLCONF = "load_stack.urls"
