"""Meaning vectors for ``about:`` watches (issue 23): who gets one, batching, caching, lag.

Only new items of a feed followed by at least one ``about:`` watch are embedded; a poll of
any other feed never reaches this module. Embedding runs in its own killable worker process
(``IsolatedParser.embed``: the same CPU and memory limits as parsing, but not competing with
parses for a worker), in batches. The item's vector is stored with it at ingest
(``items.vector``), so it is never computed twice; topic vectors (and the model's rival
topics) are computed once per process and kept.

A burst queues here: the ``wirewatch_embed_queue_items`` gauge and the
``wirewatch_embed_lag_seconds`` histogram show it in ``/metrics``. Only the polls of feeds
with ``about:`` watches wait for it, never other feeds' polls nor parsing. When the model
fails (not installed, crashed, too slow), the items are stored without vectors and their
``about:`` terms do not match; keyword terms of the same watches still do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace

from bot.core import metrics
from bot.core.errors import ParseError
from bot.core.model import Entry
from bot.pipeline.embedding import (
    CALIBRATIONS,
    DEFAULT_MODEL,
    MAX_TEXT_CHARS,
    decode_vector,
    encode_vector,
    item_text,
    load_embedder,
)
from bot.pipeline.isolation import IsolatedParser
from bot.pipeline.match import Document
from bot.query.semantic import RIVALS, Meaning, Space

log = logging.getLogger(__name__)

BATCH = 32  # items per worker job: a few seconds of CPU, so one job never hogs the worker
JOB_TIMEOUT_S = 120.0


class Meanings:
    """Vectors for items and topics from one model, computed in ``pool``."""

    def __init__(self, pool: IsolatedParser, model: str = DEFAULT_MODEL,
                 batch: int = BATCH) -> None:
        self._pool = pool
        self.model = model
        self._batch = max(1, batch)
        self._space: Space | None = None
        self._topics_lock = asyncio.Lock()  # one topic computation at a time

    async def space(self, topics: Iterable[str]) -> Space:
        """The model's space with vectors for every topic in ``topics`` (computed once)."""
        async with self._topics_lock:
            if self._space is None:
                rivals = await self._embed(list(RIVALS), query=True)
                self._space = Space(self.model, tuple(rivals), CALIBRATIONS[self.model])
            space = self._space
            missing = sorted({t for t in topics if t not in space.topics})
            if missing:
                for topic, vector in zip(missing, await self._embed(missing, query=True),
                                         strict=True):
                    space.add_topic(topic, vector)
            return space

    async def vectors(self, entries: Sequence[Entry]) -> dict[str, tuple[float, ...]]:
        """Item key → vector for ``entries`` (batched); {} when the model failed."""
        texts = [item_text(entry) for entry in entries]
        keep = [(entry.key, text) for entry, text in zip(entries, texts, strict=True) if text]
        if not keep:
            return {}
        metrics.embed_queued(len(keep))
        started = time.monotonic()
        out: dict[str, tuple[float, ...]] = {}
        try:
            for start in range(0, len(keep), self._batch):
                chunk = keep[start:start + self._batch]
                vectors = await self._embed([text for _, text in chunk], query=False)
                out.update((key, vec) for (key, _), vec in zip(chunk, vectors, strict=True))
                metrics.embed_queued(-len(chunk))
        except ParseError as exc:
            metrics.embed_queued(-(len(keep) - len(out)))
            metrics.observe_embedding(len(keep), time.monotonic() - started, ok=False)
            log.warning("meaning model %s failed on %d items; their about: terms will not "
                        "match: %s", self.model, len(keep), exc)
            return {}
        metrics.observe_embedding(len(keep), time.monotonic() - started, ok=True)
        return out

    async def _embed(self, texts: list[str], *, query: bool) -> list[tuple[float, ...]]:
        return await self._pool.embed(texts, model=self.model, query=query,
                                      timeout_s=JOB_TIMEOUT_S)


async def item_meanings(meanings: Meanings, topics: Iterable[str], entries: Sequence[Entry],
                        ) -> tuple[dict[str, Meaning], dict[str, str]]:
    """For new ``entries``: key → ``Meaning`` (for matching) and key → stored vector text.

    Both are empty when the model failed (the poll goes on; about: terms do not match).
    """
    try:
        space = await meanings.space(topics)
    except ParseError as exc:
        log.warning("meaning model %s: topics not embedded: %s", meanings.model, exc)
        return {}, {}
    vectors = await meanings.vectors(entries)
    return ({key: space.meaning(vec) for key, vec in vectors.items()},
            {key: encode_vector(vec) for key, vec in vectors.items()})


async def stored_meanings(meanings: Meanings | None, topics: Iterable[str],
                          vectors: Sequence[str | None]) -> list[Meaning | None]:
    """``Meaning`` views of vectors read back from the store (``/watch test``); None where an
    item has no vector or no model is available."""
    topics = list(topics)
    if meanings is None or not topics:
        return [None] * len(vectors)
    try:
        space = await meanings.space(topics)
    except ParseError as exc:
        log.warning("meaning model %s: topics not embedded: %s", meanings.model, exc)
        return [None] * len(vectors)
    return [None if text is None else space.meaning(decode_vector(text)) for text in vectors]


async def text_meaning(meanings: Meanings | None, topics: Iterable[str],
                       text: str) -> Meaning | None:
    """The ``Meaning`` of a free text (``/watch test`` with text), embedded in the pool."""
    topics = list(topics)
    if meanings is None or not topics:
        return None
    found, _ = await item_meanings(meanings, topics, [Entry(key="text", title=text)])
    return found.get("text")


def document_text(doc: Document) -> str:
    """What is embedded for a matchable document: as ``item_text``, content as a last resort."""
    fields = doc.fields
    text = fields.get("title") or fields.get("summary") or fields.get("content") or ""
    return text[:MAX_TEXT_CHARS]


def embed_locally(topics: Sequence[str], docs: Sequence[Document],
                  model: str = DEFAULT_MODEL) -> list[Document]:
    """``docs`` with meanings, the model run in this process (``wirewatch match``, a
    one-shot tool: no worker pool there). Raises ImportError without the model."""
    if not topics:
        return list(docs)
    embedder = load_embedder(model)
    space = Space(model, tuple(tuple(v) for v in embedder.embed(RIVALS, query=True)),
                  CALIBRATIONS[model])
    for topic, vector in zip(topics, embedder.embed(list(topics), query=True), strict=True):
        space.add_topic(topic, vector)
    vectors = embedder.embed([document_text(doc) or " " for doc in docs], query=False)
    return [replace(doc, meaning=space.meaning(vec))
            for doc, vec in zip(docs, vectors, strict=True)]
