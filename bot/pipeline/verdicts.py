"""The decision trail's verdicts (issue 21): per watch that saw an item, why it did or did not
match. Pure; called by ``plan_deliveries`` with the document it already built.

A match is described by its terms (the alert shows the same ones); a refusal by the first
term that failed (``bot.query.failure``), evaluated on the prefilter's view of the document:
a term whose words the prefilter did not find is known absent without reading the text, and
a field that must be read is indexed once, however many watches did not match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.fate import Verdict
from bot.pipeline.match import CompiledQuery
from bot.query.evaluate import DocView
from bot.query.failure import why_false
from bot.store.rows import WatchRow


def terms_text(terms: Sequence[str]) -> str:
    """``'tariffs', 'Xi'``: the matched terms as the trail and /why say them."""
    return ", ".join(f"'{term}'" for term in terms)


def watch_verdicts(view: DocView, watches: Sequence[WatchRow],
                   terms: Mapping[int, tuple[str, ...]],
                   compiled: Mapping[int, CompiledQuery]) -> list[Verdict]:
    """One verdict per watch of ``watches`` for the document behind ``view`` (the one its
    matcher decided on): matched on ``terms[watch]``, else the first term that failed."""
    out = []
    for watch in watches:
        if watch.id in terms:
            out.append(Verdict(watch.id, True, terms_text(terms[watch.id])))
            continue
        out.append(Verdict(watch.id, False, why_false(compiled[watch.id].node, view)))
    return out
