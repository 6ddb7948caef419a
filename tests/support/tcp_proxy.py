"""A small threaded TCP proxy whose link can be cut and restored, to simulate network failures.

    proxy = TcpProxy("127.0.0.1", 5432).start()
    ... connect clients to 127.0.0.1:proxy.port ...
    proxy.cut()       # established connections drop, new connections are refused
    proxy.restore()   # accepts again, on the same port
    proxy.hang()      # connections stay open (new ones are accepted) but nothing is forwarded
    proxy.resume()    # what was held back is forwarded, in order, and the link flows again
    proxy.close()

Each accepted connection gets two pump threads (one per direction) that block in `recv`; a cut
wakes them by shutting the sockets down, so nothing polls. The accept loop waits in `select` on
the listening socket and a wake-up socket pair. Every thread is joined by `cut()` / `close()`.
A hang is a network partition as the application sees it: its writes succeed (the proxy's kernel
acknowledges them) and no answer comes, so only the application's own timeouts end the wait.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from types import TracebackType

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_JOIN_TIMEOUT = 5.0


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Link:
    """One proxied connection: the accepted client socket and its upstream socket."""

    def __init__(self, proxy: TcpProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.lock = threading.Lock()
        self.dropped = False
        self.closed = False
        self.open_directions = 2
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        thread = threading.Thread(target=self._run, name="tcp-proxy-link", daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run(self) -> None:
        """Connect upstream, start the upstream-to-client pump, pump client-to-upstream here."""
        if not self._wait_while_hanging():
            self._finish_direction()
            self._finish_direction()
            return
        try:
            upstream = socket.create_connection(
                self.proxy.target, timeout=self.proxy.connect_timeout
            )
        except OSError as exc:
            logger.debug("tcp proxy: upstream connect failed: %s", exc)
            self.drop()
            self._finish_direction()
            self._finish_direction()
            return
        upstream.settimeout(None)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            dropped = self.dropped
            if dropped:  # cut while connecting
                upstream.close()
            else:
                self.upstream = upstream
        if dropped:
            self._finish_direction()
            self._finish_direction()
            return
        back = threading.Thread(
            target=self._pump, args=(upstream, self.client), name="tcp-proxy-pump", daemon=True
        )
        with self.lock:
            self.threads.append(back)
        back.start()
        self._pump(self.client, upstream)

    def _pump(self, source: socket.socket, destination: socket.socket) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    # Half-close: tell the other side this direction is finished.
                    with contextlib.suppress(OSError):
                        destination.shutdown(socket.SHUT_WR)
                    break
                if not self._wait_while_hanging():
                    break
                destination.sendall(data)
                self.proxy._count(len(data))
        except OSError:
            # Reset, or shut down by drop(): the whole link is over.
            self.drop()
        finally:
            self._finish_direction()

    def _wait_while_hanging(self) -> bool:
        """Hold the link while the proxy hangs; False if it was dropped meanwhile."""
        while not self.proxy._flowing.wait(0.05):
            if self.dropped:
                return False
        return not self.dropped

    def _finish_direction(self) -> None:
        with self.lock:
            self.open_directions -= 1
            last = self.open_directions == 0
        if last:
            self._close_sockets()
            self.proxy._forget(self)

    def drop(self) -> None:
        """Shut both sockets down: wakes the pumps, the peers see the connection end."""
        # Under the lock, so a socket is never shut down while another thread closes it.
        with self.lock:
            self.dropped = True
            if self.closed:
                return
            _shutdown(self.client)
            if self.upstream is not None:
                _shutdown(self.upstream)

    def _close_sockets(self) -> None:
        with self.lock:
            self.closed = True
            self.client.close()
            if self.upstream is not None:
                self.upstream.close()

    def join(self, timeout: float) -> None:
        """Wait for the link's threads, including a pump started while waiting."""
        joined: set[threading.Thread] = set()
        while True:
            with self.lock:
                pending = [thread for thread in self.threads if thread not in joined]
            if not pending:
                return
            for thread in pending:
                thread.join(timeout)
                joined.add(thread)


class TcpProxy:
    """Forward connections made to 127.0.0.1:`port` to (`target_host`, `target_port`)."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_host: str = "127.0.0.1",
        connect_timeout: float = 5.0,
    ) -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.connect_timeout = connect_timeout
        self._port: int | None = None
        # `_control` serialises start/cut/restore/close; `_lock` guards the state the worker
        # threads touch. Workers never take `_control`, so the two cannot deadlock.
        self._control = threading.Lock()
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._accepting = False
        self._closed = False
        self._accept_thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self.connections_accepted = 0
        self.bytes_forwarded = 0
        self._flowing = threading.Event()
        self._flowing.set()

    # --- public API --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("TcpProxy has not been started")
        return self._port

    @property
    def accepting(self) -> bool:
        with self._lock:
            return self._accepting

    @property
    def active_connections(self) -> int:
        """Connections currently open through the proxy."""
        with self._lock:
            return len(self._links)

    def start(self) -> TcpProxy:
        """Listen on a free port (on the same port again after a cut) and forward."""
        with self._control:
            if self._closed:
                raise RuntimeError("TcpProxy is closed")
            if not self._accepting:
                self._listen()
        return self

    def restore(self) -> None:
        """Accept connections again, on the same port as before the cut."""
        if self._port is None:
            raise RuntimeError("TcpProxy has not been started")
        self.start()

    def cut(self) -> None:
        """Stop accepting (new connects are refused) and drop every established connection.

        When this returns the listening socket is closed, every proxied connection has been
        shut down in both directions and all worker threads have ended.
        """
        with self._control:
            with self._lock:
                self._accepting = False
                thread, self._accept_thread = self._accept_thread, None
                wake, self._wake = self._wake, None
            if wake is not None:
                with contextlib.suppress(OSError):
                    wake[1].send(b"x")
            if thread is not None:
                thread.join(_JOIN_TIMEOUT)
                if thread.is_alive():  # pragma: no cover - would be a bug in the loop
                    raise RuntimeError("TcpProxy accept thread did not stop")
            if wake is not None:
                for sock in wake:
                    sock.close()
            with self._lock:
                links = list(self._links)
            for link in links:
                link.drop()
            for link in links:
                link.join(_JOIN_TIMEOUT)

    def hang(self) -> None:
        """Keep every connection open and accept new ones, but forward nothing until `resume()`."""
        self._flowing.clear()

    def resume(self) -> None:
        """Forward again, starting with what was held back while hanging."""
        self._flowing.set()

    @property
    def hanging(self) -> bool:
        return not self._flowing.is_set()

    def close(self) -> None:
        """Cut everything and release the port; the proxy cannot be started again."""
        self.cut()
        with self._control:
            self._closed = True

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "hanging" if self.hanging else "accepting" if self._accepting else "cut"
        return f"<TcpProxy :{self._port} -> {self.target[0]}:{self.target[1]} {state}>"

    # --- internals (called with `_control` held, or from worker threads) --------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.listen_host, self._port or 0))
            listener.listen(128)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        self._port = listener.getsockname()[1]
        wake = socket.socketpair()
        thread = threading.Thread(
            target=self._accept_loop,
            args=(listener, wake[0]),
            name=f"tcp-proxy-accept-{self._port}",
            daemon=True,
        )
        with self._lock:
            self._accepting = True
            self._accept_thread = thread
            self._wake = wake
        thread.start()

    def _accept_loop(self, listener: socket.socket, wake: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        try:
            while True:
                events = selector.select()  # no timeout: woken by a connection or by `wake`
                if any(key.fileobj is wake for key, _ in events):
                    return
                try:
                    client, _address = listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    logger.warning("tcp proxy: accept failed, no longer accepting: %s", exc)
                    return
                client.setblocking(True)
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                link = _Link(self, client)
                with self._lock:
                    if not self._accepting:
                        client.close()
                        return
                    self._links.add(link)
                    self.connections_accepted += 1
                link.start()
        finally:
            selector.close()
            # Closing the listener is what makes new connects be refused (and resets any
            # connection still waiting in its backlog).
            listener.close()

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)

    def _count(self, size: int) -> None:
        with self._lock:
            self.bytes_forwarded += size
