"""Run ``parse_feed`` in child processes that can be killed, so a hostile feed costs one feed.

A ``ProcessPoolExecutor`` cannot do this: a timed-out future leaves its worker busy and the
next healthy feed times out behind it. Here each worker is a long-lived
``python -m bot.pipeline.worker`` child speaking length-prefixed frames over its pipes:

    parent → child   JSON {"url", "headers"}, then the raw body
    child → parent   JSON {"feed": ...} or {"error": "...", "fatal": bool}

An article page to extract (issue 13) is the same exchange with ``"job": "extract"`` (and
its own ``"cpu_s"``) in the request; the reply is {"text": ...}.

Each child starts with an empty environment (no token, no database URL), caps its address
space (RLIMIT_AS) and, per job, its CPU time (RLIMIT_CPU, SIGXCPU), and runs at a lower
priority than the bot. The parent enforces the wall-clock
timeout: a worker that overruns is killed and a replacement is started at once, so the
next feed does not wait for it. Results cross the boundary as JSON, never pickle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import bot
from bot.core import metrics
from bot.core.errors import ParseError
from bot.core.model import ParsedFeed
from bot.core.urls import host_of
from bot.pipeline.embedding import decode_vectors
from bot.pipeline.preview import WatchPreview
from bot.pipeline.worker import (
    FRAME_HEADER,
    MAX_FRAME,
    READY,
    feed_from_wire,
)
from bot.store.rows import WatchRow

log = logging.getLogger(__name__)

_SPAWN_TIMEOUT_S = 60.0
# Workers handle hostile bytes: they start with an empty environment, so a compromised
# parser finds no DISCORD_TOKEN, database URL or proxy settings. The venv's interpreter finds
# its own packages without PYTHONPATH, and Python 3.11 defaults to UTF-8 in the C locale.
WORKER_ENV: dict[str, str] = {}


# --- parent side -----------------------------------------------------------------------------


class _Worker:
    """One child process and its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def spawn(cls, memory_bytes: int, cpu_s: float) -> _Worker:
        root = Path(bot.__file__).resolve().parent.parent  # so "-m bot..." imports this tree
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.pipeline.worker", str(memory_bytes), str(cpu_s),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=root,
                env=WORKER_ENV)
        except OSError as exc:
            raise ParseError(f"parser process failed to start: {exc}") from exc
        worker = cls(proc)
        try:
            async with asyncio.timeout(_SPAWN_TIMEOUT_S):
                ready = await worker.read_frame()
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            await worker.kill()
            raise ParseError(f"parser process failed to start (exit {proc.returncode})") from exc
        except BaseException:
            await worker.kill()
            raise
        if ready != READY:
            await worker.kill()
            raise ParseError("parser process failed to start (bad handshake)")
        return worker

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def read_frame(self) -> bytes:
        assert self.proc.stdout is not None  # noqa: S101 - created with stdout=PIPE
        (size,) = FRAME_HEADER.unpack(await self.proc.stdout.readexactly(FRAME_HEADER.size))
        if size > MAX_FRAME:
            raise ParseError(f"parser sent an oversized reply ({size} bytes)")
        return await self.proc.stdout.readexactly(size)

    async def call(self, request: bytes, body: bytes) -> bytes:
        assert self.proc.stdin is not None  # noqa: S101 - created with stdin=PIPE
        header = FRAME_HEADER.pack
        self.proc.stdin.write(header(len(request)) + request + header(len(body)))
        self.proc.stdin.write(body)
        await self.proc.stdin.drain()
        return await self.read_frame()

    async def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        await self.proc.wait()

    async def stop(self) -> None:
        """Ask politely (EOF on stdin), then kill."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            async with asyncio.timeout(1.0):
                await self.proc.wait()
        except TimeoutError:
            await self.kill()

    def death_message(self, cpu_s: float) -> str:
        code = self.proc.returncode
        if code == -signal.SIGXCPU:
            return f"parser killed after using {cpu_s:g} s of CPU"
        if code is not None and code < 0:
            return f"parser killed by signal {signal.Signals(-code).name}"
        return f"parser crashed (exit status {code})"


_Slot = _Worker | asyncio.Task[_Worker] | None


class IsolatedParser:
    """``parse_feed`` in up to ``workers`` killable child processes with CPU/memory limits."""

    def __init__(self, *, timeout_s: float = 20.0, memory_bytes: int = 512 * 1024 * 1024,
                 workers: int = 2, cpu_s: float | None = None) -> None:
        self._timeout_s = timeout_s
        self._cpu_s = timeout_s if cpu_s is None else cpu_s  # CPU budget per parse
        self._memory = memory_bytes
        self._workers = max(1, workers)
        self._idle: asyncio.Queue[_Slot] | None = None
        self._busy: set[_Worker] = set()
        self._closed = False

    def _queue(self) -> asyncio.Queue[_Slot]:
        # Created on first use: a Queue binds to the running loop.
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self._workers):
                self._idle.put_nowait(None)
        return self._idle

    def _spawn(self) -> asyncio.Task[_Worker]:
        return asyncio.create_task(_Worker.spawn(self._memory, self._cpu_s))

    async def _acquire(self) -> _Worker:
        slot = await self._queue().get()
        try:
            worker = await slot if isinstance(slot, asyncio.Task) else slot
            if worker is None or not worker.alive:
                worker = await self._spawn()
        except BaseException:
            self._queue().put_nowait(None)
            raise
        self._busy.add(worker)
        return worker

    def _release(self, worker: _Worker, *, replace: bool) -> None:
        self._busy.discard(worker)
        if self._closed:
            return
        # A replacement starts now, while the next feed is still being fetched.
        self._queue().put_nowait(self._spawn() if replace else worker)

    async def parse(self, body: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
        """Parse in a worker; ParseError for bad feeds, timeouts, crashes and memory blow-ups."""
        request = json.dumps({"url": url, "headers": dict(headers)}).encode()
        return self._feed(await self._job(request, body, self._timeout_s), url)

    async def parse_first(self, body: bytes, headers: Mapping[str, str], url: str,
                          watches: Sequence[tuple[WatchRow, str]]
                          ) -> tuple[ParsedFeed, tuple[WatchPreview, ...]]:
        """Parse a feed's first body and, in the same job, match it against ``watches`` for
        the silent first poll's preview (``bot.pipeline.preview``): a first poll costs this
        process neither the parse nor the matching (issue 24)."""
        active = [[w.id, w.guild_id, w.name, w.query, name] for w, name in watches
                  if not w.paused]
        request = json.dumps({"url": url, "headers": dict(headers),
                              "preview": active}).encode()
        reply = await self._job(request, body, self._timeout_s)
        feed = self._feed(reply, url)
        try:
            previews = tuple(WatchPreview(int(i), int(g), str(n), int(c), tuple(map(str, t)))
                             for i, g, n, c, t in reply.get("preview") or ())
        except (TypeError, ValueError) as exc:
            raise ParseError(f"parser sent a malformed preview: {exc}") from exc
        return feed, previews

    def _feed(self, reply: Mapping[str, Any], url: str) -> ParsedFeed:
        try:
            feed = feed_from_wire(reply["feed"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(f"parser sent a malformed reply: {exc}") from exc
        if feed.dropped:
            metrics.count_dropped(feed.dropped)
            log.warning("feed at %s: %d items in one body; kept the newest %d, dropped %d",
                        host_of(url), len(feed.entries) + feed.dropped, len(feed.entries),
                        feed.dropped)
        return feed

    async def extract(self, body: bytes, headers: Mapping[str, str], url: str, *,
                      timeout_s: float = 5.0) -> str:
        """An article page's main text (``bot.pipeline.extract``), extracted in a worker.

        ParseError for timeouts, crashes and blown CPU or memory limits; the worker is then
        replaced, exactly as for a hostile feed.
        """
        timeout_s = min(timeout_s, self._timeout_s)
        request = json.dumps({"job": "extract", "url": url, "headers": dict(headers),
                              "cpu_s": min(timeout_s, self._cpu_s)}).encode()
        reply = await self._job(request, body, timeout_s)
        text = reply.get("text")
        if not isinstance(text, str):
            raise ParseError("extractor sent a malformed reply")
        return text

    async def embed(self, texts: Sequence[str], *, model: str, query: bool,
                    timeout_s: float = 60.0) -> list[tuple[float, ...]]:
        """Vectors of ``texts`` from a sentence-embedding model run in a worker (issue 23).

        ParseError for a missing model, timeouts, crashes and blown limits (the worker is
        then replaced, as for a hostile feed).
        """
        timeout_s = min(timeout_s, self._timeout_s * 6)
        request = json.dumps({"job": "embed", "model": model, "query": query,
                              "cpu_s": min(timeout_s, self._cpu_s * 6)}).encode()
        reply = await self._job(request, json.dumps(list(texts)).encode(), timeout_s)
        vectors = reply.get("vectors")
        if not isinstance(vectors, list) or len(vectors) != len(texts):
            raise ParseError("embedder sent a malformed reply")
        try:
            return decode_vectors([str(v) for v in vectors])
        except ValueError as exc:
            raise ParseError(f"embedder sent a malformed reply: {exc}") from exc

    async def _job(self, request: bytes, body: bytes, timeout_s: float) -> dict[str, Any]:
        """Run one job in a worker; its reply, or ParseError (the worker is then replaced)."""
        if self._closed:
            raise ParseError("parser is shut down")
        worker = await self._acquire()
        try:
            async with asyncio.timeout(timeout_s):
                raw = await worker.call(request, body)
            # ~10 ms per MB on the loop; a thread would not help, json holds the GIL.
            reply = json.loads(raw)
            if not isinstance(reply, dict):
                raise ValueError("reply is not an object")
        except BaseException as exc:  # timeout, death, garbage, or cancelled mid-job
            await worker.kill()
            self._release(worker, replace=True)
            failure = self._failure(exc, worker, timeout_s)
            if failure is exc:
                raise
            raise failure from exc
        fatal = bool(reply.get("fatal"))
        if fatal:
            await worker.stop()  # it exits by itself after a fatal reply
        self._release(worker, replace=fatal)
        if "error" in reply:
            raise ParseError(str(reply["error"]))
        return reply

    def _failure(self, exc: BaseException, worker: _Worker, timeout_s: float) -> BaseException:
        """The exception to raise for a job that did not end with a reply."""
        if isinstance(exc, TimeoutError):
            return ParseError(f"parser killed after {timeout_s:g} s")
        if isinstance(exc, asyncio.IncompleteReadError | ConnectionError):
            return ParseError(worker.death_message(self._cpu_s))
        if isinstance(exc, ValueError):
            return ParseError(f"parser sent a malformed reply: {exc}")
        return exc  # cancellation and the like pass through unchanged

    async def close(self) -> None:
        """Stop every worker, busy or idle."""
        self._closed = True
        slots: list[_Slot] = []
        while self._idle is not None and not self._idle.empty():
            slots.append(self._idle.get_nowait())
        # Workers stop side by side: shutdown must fit in the 10 s a container gets.
        await asyncio.gather(*(self._stop_slot(slot) for slot in slots),
                             *(worker.kill() for worker in list(self._busy)))

    @staticmethod
    async def _stop_slot(slot: _Slot) -> None:
        if isinstance(slot, asyncio.Task):
            slot.cancel()
            with contextlib.suppress(BaseException):
                slot = await slot
        if isinstance(slot, _Worker):
            await slot.stop()
