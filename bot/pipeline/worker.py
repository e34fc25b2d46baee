"""The worker side of ``bot.pipeline.isolation``: a child process serving parse and extract jobs.

Run as ``python -m bot.pipeline.worker MEMORY_BYTES CPU_S`` by ``IsolatedParser``. Frames are
length-prefixed on stdin/stdout; results cross the boundary as JSON (``feed_to_wire``), never
pickle. The child caps its address space and, per job, its CPU time.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import signal
import struct
import sys
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any, BinaryIO

from bot.core.errors import ParseError
from bot.core.model import Entry, ParsedFeed
from bot.pipeline.parse import ParserCrashed, parse_feed

FRAME_HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024
READY = b"ready"
OOM_MESSAGE = "parser ran out of memory"
_ENTRY_FIELDS = tuple(f.name for f in fields(Entry))


# --- wire format (both sides) ----------------------------------------------------------------


def feed_to_wire(feed: ParsedFeed) -> dict[str, Any]:
    """A ParsedFeed as JSON-ready data (entries as lists in Entry field order)."""
    entries = []
    for entry in feed.entries:
        row: list[Any] = [getattr(entry, name) for name in _ENTRY_FIELDS]
        row[_ENTRY_FIELDS.index("tags")] = list(entry.tags)
        row[_ENTRY_FIELDS.index("published")] = (
            entry.published.isoformat() if entry.published else None)
        entries.append(row)
    return {"title": feed.title, "link": feed.link, "version": feed.version, "entries": entries,
            "dropped": feed.dropped, "ttl_s": feed.ttl_s, "hub": feed.hub,
            "self_url": feed.self_url}


def feed_from_wire(data: Mapping[str, Any]) -> ParsedFeed:
    """Inverse of ``feed_to_wire``."""
    entries = []
    for row in data["entries"]:
        values = dict(zip(_ENTRY_FIELDS, row, strict=True))
        values["tags"] = tuple(values["tags"])
        published = values["published"]
        values["published"] = datetime.fromisoformat(published) if published else None
        entries.append(Entry(**values))
    ttl = data.get("ttl_s")
    return ParsedFeed(title=data["title"], link=data["link"], entries=tuple(entries),
                      version=data["version"], dropped=int(data.get("dropped") or 0),
                      ttl_s=float(ttl) if ttl is not None else None,
                      hub=str(data.get("hub") or ""), self_url=str(data.get("self_url") or ""))


# --- child side ------------------------------------------------------------------------------


def _read_frame(stream: BinaryIO) -> bytes | None:
    head = stream.read(FRAME_HEADER.size)
    if len(head) < FRAME_HEADER.size:
        return None
    (size,) = FRAME_HEADER.unpack(head)
    data = stream.read(size)
    return data if len(data) == size else None


def _write_frame(stream: BinaryIO, data: bytes) -> None:
    stream.write(FRAME_HEADER.pack(len(data)) + data)
    stream.flush()


class _CpuExceeded(BaseException):
    """Raised by the SIGXCPU handler; a BaseException so no ``except Exception`` eats it."""


def _on_sigxcpu(signum: int, frame: object) -> None:
    raise _CpuExceeded


def _set_cpu_budget(seconds: float) -> None:
    """Allow this job ``seconds`` more CPU; RLIMIT_CPU counts the process's whole life.

    At the soft limit SIGXCPU makes the job answer "killed" itself (the parent cannot always
    learn a child's exit signal). The hard limit stays unlimited: a process may lower it but
    never raise it again, so the next job could not get its budget; a job stuck in C code is
    killed by the parent's wall-clock timeout instead.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + math.ceil(seconds)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


def _handle_extract(meta: Mapping[str, Any], body: bytes, cpu_s: float) -> tuple[bytes, bool]:
    """One extraction job (article page → main text); fatal after a crash or a blown limit."""
    from bot.pipeline.extract import extract_main_text

    cpu_s = float(meta.get("cpu_s", cpu_s))
    _set_cpu_budget(cpu_s)
    try:
        text = extract_main_text(body, meta["headers"], meta["url"])
        return json.dumps({"text": text}).encode(), False
    except MemoryError:
        return json.dumps({"error": "extractor ran out of memory", "fatal": True}).encode(), True
    except _CpuExceeded:
        message = f"extractor killed after using {cpu_s:g} s of CPU"
        return json.dumps({"error": message, "fatal": True}).encode(), True
    except Exception as exc:  # lxml/trafilatura bugs on hostile HTML: a fresh worker next
        message = f"extractor crashed: {type(exc).__name__}: {exc}"[:500]
        return json.dumps({"error": message, "fatal": True}).encode(), True


_MATCHERS: list[Any] = []  # this worker's MatcherCache, made on the first preview


def _preview(feed: ParsedFeed, watches: list[list[Any]]) -> list[list[Any]]:
    """A first poll's preview (``bot.pipeline.preview``): per watch [id, guild, name, count,
    newest titles]. Best effort: a watch that fails to compile shows nothing, never an
    error (watches are validated when added)."""
    from bot.pipeline.match import MatcherCache
    from bot.pipeline.preview import PreviewWatch, preview_matches

    if not _MATCHERS:
        _MATCHERS.append(MatcherCache())
    rows = [(PreviewWatch(int(i), int(g), str(n), str(q)), str(f)) for i, g, n, q, f in watches]
    try:
        found = preview_matches("", len(feed.entries), feed.entries, rows, _MATCHERS[0])
    except Exception:  # a preview must never fail the feed's first poll
        return []
    return [[w.watch_id, w.guild_id, w.watch_name, w.count, list(w.titles)]
            for w in found.watches]
_EMBEDDERS: dict[str, Any] = {}


def _handle_embed(meta: Mapping[str, Any], body: bytes, cpu_s: float) -> tuple[bytes, bool]:
    """One batch of texts → vectors (issue 23). The model loads once per worker."""
    from bot.pipeline.embedding import encode_vectors, load_embedder

    _set_cpu_budget(float(meta.get("cpu_s", cpu_s)))
    name = str(meta["model"])
    try:
        model = _EMBEDDERS.get(name)
        if model is None:
            model = _EMBEDDERS[name] = load_embedder(name)
        texts = json.loads(body)
        vectors = model.embed([str(t) for t in texts], query=bool(meta.get("query")))
        return json.dumps({"vectors": encode_vectors(vectors)}).encode(), False
    except (ImportError, KeyError) as exc:
        message = f"meaning model {name!r} is not installed or unknown: {exc}"
        return json.dumps({"error": message}).encode(), False
    except MemoryError:
        return json.dumps({"error": "embedder ran out of memory", "fatal": True}).encode(), True
    except _CpuExceeded:
        message = f"embedder killed after using {meta.get('cpu_s', cpu_s):g} s of CPU"
        return json.dumps({"error": message, "fatal": True}).encode(), True


def _handle(request: bytes, body: bytes, cpu_s: float) -> tuple[bytes, bool]:
    """One job: the reply frame and whether this worker must exit afterwards."""
    meta = json.loads(request)
    if meta.get("job") == "extract":
        return _handle_extract(meta, body, cpu_s)
    if meta.get("job") == "embed":
        return _handle_embed(meta, body, cpu_s)
    _set_cpu_budget(cpu_s)
    try:
        feed = parse_feed(body, meta["headers"], meta["url"])
        reply: dict[str, Any] = {"feed": feed_to_wire(feed)}
        if "preview" in meta:
            reply["preview"] = _preview(feed, meta["preview"])
        return json.dumps(reply).encode(), False
    except ParseError as exc:
        # After an unexpected crash (often a C allocation failing near RLIMIT_AS) start afresh.
        crashed = isinstance(exc, ParserCrashed)
        return json.dumps({"error": str(exc), "fatal": crashed}).encode(), crashed
    except MemoryError:
        # The heap may be fragmented past use: answer, then let the parent start a fresh one.
        return json.dumps({"error": OOM_MESSAGE, "fatal": True}).encode(), True
    except _CpuExceeded:
        message = f"parser killed after using {cpu_s:g} s of CPU"
        return json.dumps({"error": message, "fatal": True}).encode(), True


def worker_main(memory_bytes: int, cpu_s: float) -> None:
    """Serve parse jobs on stdin/stdout until stdin closes."""
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the protocol
    requests = sys.stdin.buffer
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    signal.signal(signal.SIGXCPU, _on_sigxcpu)
    with contextlib.suppress(OSError):
        os.nice(5)  # the bot's event loop (gateway heartbeats) comes first
    _write_frame(protocol_out, READY)
    while True:
        request = _read_frame(requests)
        body = _read_frame(requests) if request is not None else None
        if request is None or body is None:
            return
        try:
            reply, fatal = _handle(request, body, cpu_s)
        except MemoryError:
            reply, fatal = json.dumps({"error": OOM_MESSAGE, "fatal": True}).encode(), True
        _write_frame(protocol_out, reply)
        if fatal:
            return


if __name__ == "__main__":
    worker_main(int(sys.argv[1]), float(sys.argv[2]))
