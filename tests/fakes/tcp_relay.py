"""A TCP relay that can be frozen: one process's network path to a server, hung on demand.

``freeze()`` stops forwarding in both directions while every connection stays open, which is
what a stalled network path (or a frozen NAT, or a paused proxy) looks like to both ends: no
error, no reset, just silence. ``thaw()`` lets the held bytes through again.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpRelay:
    """Forwards ``127.0.0.1:port`` to ``host:port``; ``freeze``/``thaw`` hold or pass traffic."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.target_port = host, port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open = asyncio.Event()
        self._open.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> TcpRelay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self.thaw()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def freeze(self) -> None:
        """Hold every byte from now on (connections stay open)."""
        self._open.clear()

    def thaw(self) -> None:
        """Forward again, held bytes first."""
        self._open.set()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        await self._open.wait()  # a frozen path does not even complete new connections' traffic
        try:
            server_r, server_w = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            client_w.close()
            return
        self._writers.update((client_w, server_w))
        for reader, writer in ((client_r, server_w), (server_r, client_w)):
            task = asyncio.create_task(self._pipe(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._open.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)
