"""`EventStream` (`eventstream/static/eventstream/stream.js`) against the real service, from Node.

The tests are tests/eventstream/js/*.test.mjs, run by `node --test` against the servers that
`tests.support.node.run_node_tests` starts (its docstring lists what they are given).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fixtures import DaphneFactory
from tests.support.node import run_node_tests
from tests.support.servers import REPO_ROOT

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_the_event_stream_client_against_the_real_service(
    daphne_factory: DaphneFactory, tmp_path: Path
) -> None:
    run_node_tests(REPO_ROOT / "tests" / "eventstream" / "js", daphne_factory, tmp_path)
