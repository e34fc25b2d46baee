"""The layers of ``bot/`` stay as drawn: a module imports only its own layer and those below.

Lowest first (README, "Architecture"):

    core → query → config → stories → store → pipeline | delivery → service → exts
    → the composition root (service.app, service.runner, service.gateway) → cli

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a lazy
import that climbs is still a cycle waiting to happen. ``pipeline`` and ``delivery`` share a
layer but do not import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"

COMPOSITION_ROOT = ("bot.service.app", "bot.service.runner", "bot.service.gateway")
# Lowest first; each entry is one layer, a tuple of module prefixes.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("bot.core", "bot"),
    ("bot.query",),
    ("bot.config",),
    ("bot.stories",),
    ("bot.store",),
    ("bot.pipeline", "bot.delivery"),
    ("bot.service",),
    ("bot.exts",),
    COMPOSITION_ROOT,
    ("bot.cli", "bot.__main__"),
)
INDEPENDENT = (("bot.pipeline", "bot.delivery"),)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def owner(module: str) -> str:
    """The most specific layer prefix that contains ``module``."""
    best = ""
    for layer in LAYERS:
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best = prefix
    return best


def layer_of(module: str) -> int:
    prefix = owner(module)
    return next(i for i, layer in enumerate(LAYERS) if prefix in layer)


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``bot`` import in ``path``, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            # ``from bot.core import metrics`` imports the module bot.core.metrics
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names
                      if (BOT.parent / f"{base}.{alias.name}".replace(".", "/")).with_suffix(
                          ".py").exists()]
    return [(line, mod) for line, mod in found if mod == "bot" or mod.startswith("bot.")]


def violations() -> list[str]:
    problems = []
    for path in sorted(BOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue  # Alembic revisions only import the store's schema helpers
        me = module_name(path)
        for line, target in imported(path):
            mine, theirs = owner(me), owner(target)
            if layer_of(target) > layer_of(me):
                problems.append(f"{path.relative_to(BOT.parent)}:{line}: {me} ({mine}) imports "
                                f"{target} ({theirs}), a layer above it")
            elif any({mine, theirs} == set(pair) for pair in INDEPENDENT):
                problems.append(f"{path.relative_to(BOT.parent)}:{line}: {mine} and {theirs} "
                                "share a layer but must not import each other")
    return problems


def test_no_import_climbs_a_layer() -> None:
    assert violations() == []


def test_only_the_cli_imports_the_composition_root() -> None:
    for path in sorted(BOT.rglob("*.py")):
        me = module_name(path)
        if me.startswith(COMPOSITION_ROOT) or owner(me) in ("bot.cli", "bot.__main__"):
            continue
        for line, target in imported(path):
            assert not target.startswith(COMPOSITION_ROOT), f"{me}:{line} imports {target}"


@pytest.mark.parametrize(("importer", "target", "climbs"), [
    ("bot.core.metrics", "bot.service.app", True),
    ("bot.pipeline.poll", "bot.core.metrics", False),
    ("bot.pipeline.render", "bot.delivery.embed", False),  # same layer: caught as independent
    ("bot.exts.status", "bot.service.runtime", False),
    ("bot.service.dispatcher", "bot.exts.client", True),
    ("bot.store.items", "bot.stories.book", False),
    ("bot.query.words", "bot.config.file", True),
    ("bot.service.gateway", "bot.exts.client", False),
])
def test_the_rule_itself(importer: str, target: str, climbs: bool) -> None:
    """The checker can fail: a climbing import is told from an allowed one."""
    assert (layer_of(target) > layer_of(importer)) is climbs
