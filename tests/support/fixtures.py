"""pytest fixtures around `tests.support`, registered for every test by tests/conftest.py
(`pytest_plugins`): a test asks for `daphne_factory` or `tcp_proxy_factory` by name.

Servers and proxies started through these are stopped at teardown, servers first; a server's
output is printed at teardown, so pytest shows it for a failed test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest

from tests.support.servers import DaphneServer
from tests.support.tcp_proxy import TcpProxy

DaphneFactory = Callable[..., DaphneServer]
ProxyFactory = Callable[[str, int], TcpProxy]


@pytest.fixture
def tcp_proxy_factory() -> Iterator[ProxyFactory]:
    """`make(host, port)` starts a `TcpProxy` to host:port; all are closed at teardown."""
    proxies: list[TcpProxy] = []

    def make(host: str, port: int) -> TcpProxy:
        proxy = TcpProxy(host, port).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in reversed(proxies):
        proxy.close()


@pytest.fixture
def daphne_factory(tcp_proxy_factory: ProxyFactory) -> Iterator[DaphneFactory]:
    """`start(env=None, settings_module="cortex.settings")` runs a `DaphneServer`.

    Depends on `tcp_proxy_factory` so that servers stop before the proxies they use close.
    """
    servers: list[DaphneServer] = []

    def start(
        env: Mapping[str, str] | None = None, settings_module: str = "cortex.settings"
    ) -> DaphneServer:
        server = DaphneServer(env, settings_module)
        servers.append(server)
        return server.start()

    yield start
    for server in reversed(servers):
        server.stop()
        print(f"=== {server!r} (exit status {server.returncode})\n{server.output()}")
        server.cleanup()
