"""Words that occur in most news items, so a poor choice of prefilter probe.

Only a *preference*: when a rule offers several probes (``"Bank of England"``, ``copper
prices``), the fast matcher anchors it on one that is not common. Matching never depends on
this list; a wrong or missing entry costs speed, not correctness.
"""

from __future__ import annotations

__all__ = ["COMMON_WORDS", "is_common", "probe_length"]

_FUNCTION_WORDS = """
    a about above after again against ago all also am amid among an and another any are as
    at back be because been before being below between both but by can could did do does
    down during each early either even ever every few first for from further had has have
    he her here hers him his how however i if in into is it its just last late least less
    like many may me might more most much must my near new next no nor not now of off often
    on once one only or other our out over own per same she should since so some still such
    than that the their them then there these they this those through to too two three
    under until up upon us very was we were what when where whether which while who whom
    whose why will with within without would yet you your
"""
_NEWS_WORDS = """
    according added agreed analyst analysts announced around bank banks become began best
    better big business called came change city companies company continue continued
    country cut data day days deal decision decreased demand economic economy end expected
    exports fell former found get give go going good government group growth help high
    higher home house imports including increase increased industry investors issue know
    large later lead leader leaders leading left life likely long low lower made major make
    man market markets means million billion minister month months national news number
    official officials part people percent place plan plans point police policy political
    power president price prices public put rate rates record rejected report reported
    reports right rise rose said sales say says sector security see service set shares show
    small spokesman state statement states support supply take talks team think time times
    told top trade used want war warned way week weeks well world year years
"""

COMMON_WORDS: frozenset[str] = frozenset((_FUNCTION_WORDS + _NEWS_WORDS).split())
_COMMON_PREFIXES = frozenset(w[:i] for w in COMMON_WORDS for i in range(1, len(w) + 1))


def is_common(probe: str) -> bool:
    """Whether a probe (``bot.query.ast.Term.probes``) hits in most news items.

    A whole word's probe (``market|markets``) is common when one of its forms is a common
    word; a prefix (``ma*``) when a common word starts with it.
    """
    if probe.endswith("*"):
        return probe[:-1] in _COMMON_PREFIXES
    return any(word in COMMON_WORDS for word in probe.split("|"))


def probe_length(probe: str) -> int:
    """Characters a probe's shortest search string has (longer is more selective)."""
    return min(len(part) for part in probe.removesuffix("*").split("|"))
