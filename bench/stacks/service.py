"""cortex's settings with a URLconf that adds `GET /bench/bare/` (bench/load's baseline)."""

from cortex.settings import *  # noqa: F403

ROOT_URLCONF = "bench.stacks.service_urls"
