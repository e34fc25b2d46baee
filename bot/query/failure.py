"""Why a query did not match a document: the first term that failed (pure).

The decision trail (issue 21) records, for each watch that saw a new item and did not match
it, one short reason a person can act on: the first term, in query order, whose absence (or,
under NOT, presence) decided the match. ``AND`` reports its first failing child; ``OR`` its
alternatives when all are plain terms ("none of 'a', 'b'"), else its first child's reason;
``NOT`` the term that was present.
"""

from __future__ import annotations

from bot.query.ast import (
    DEFAULT_SCOPE,
    About,
    And,
    Leaf,
    Near,
    Node,
    Not,
    Or,
    Regex,
    Term,
    iter_terms,
)
from bot.query.evaluate import DocView, about_score, evaluate, leaf_matches

__all__ = ["describe_scope", "first_failure", "why_false"]

_FIELD_WORDS = {"title": "title", "summary": "summary", "content": "content",
                "body": "article page", "author": "author", "tag": "tags", "feed": "feed name",
                "link": "link"}
MAX_LISTED = 4  # alternatives named in "none of …"


def describe_scope(fields: tuple[str, ...]) -> str:
    """Where a term was looked for, in words: "title or article", "title", "summary or tags"."""
    if fields == DEFAULT_SCOPE:
        return "title or article"
    return " or ".join(_FIELD_WORDS.get(field, field) for field in fields)


def _bare(leaf: Leaf) -> str:
    """A leaf's label without its field prefix (the scope is said separately)."""
    label = leaf.label
    if isinstance(leaf, About):
        return label  # no field: the label says all
    if leaf.fields != DEFAULT_SCOPE and label.startswith(f"{leaf.fields[0]}:"):
        label = label[len(leaf.fields[0]) + 1:]
    if len(label) > 1 and label[0] == label[-1] == '"':
        label = label[1:-1]  # said in quotes anyway
    return label


def first_failure(node: Node, view: DocView) -> str:
    """Why ``node`` is false for ``view``'s document ("" when it is true)."""
    if evaluate(node, view):
        return ""
    return why_false(node, view)


def why_false(node: Node, view: DocView) -> str:
    """Why ``node``, known to be false for ``view``'s document, is false."""
    if isinstance(node, And):
        for child in node.children:
            if not evaluate(child, view):
                return why_false(child, view)
        return "no match"
    if isinstance(node, Or):
        leaves = [c for c in node.children if isinstance(c, Term | Regex | Near)]
        if len(leaves) == len(node.children):
            scopes = {leaf.fields for leaf in leaves}
            named = ", ".join(f"'{_bare(leaf)}'" for leaf in leaves[:MAX_LISTED])
            more = "…" if len(leaves) > MAX_LISTED else ""
            where = describe_scope(leaves[0].fields) if len(scopes) == 1 else "its fields"
            return f"none of {named}{more} in {where}"
        return why_false(node.children[0], view)
    if isinstance(node, Not):
        present = [leaf for leaf, negated in iter_terms(node.child)
                   if not negated and leaf_matches(leaf, view)]
        if present:
            return f"'{_bare(present[0])}' is there, and the watch excludes it"
        return "excluded by a NOT"
    if isinstance(node, Near):
        return (f"'{_bare(node.left)}' and '{_bare(node.right)}' not within {node.distance} "
                f"words in {describe_scope(node.fields)}")
    if isinstance(node, About):
        score = about_score(node, view)
        if score is None:
            return f"'{_bare(node)}': the item has no meaning vector"
        return f"'{_bare(node)}' scored {score:.2f}, below {node.level:.2f}"
    return f"'{_bare(node)}' not in {describe_scope(node.fields)}"
