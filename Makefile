# Two commands on a fresh machine: `make run` and `make test`. Each sets up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run once test lint typecheck unit bench clean check-config semantic

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --config-settings editable_mode=compat -e .
	@touch $(STAMP)

# The optional meaning model for about:"topic" watches (issue 23); without it those tests skip.
semantic: $(STAMP)
	$(BIN)/pip install --quiet -r requirements-semantic.lock

run: $(STAMP)
	$(BIN)/wirewatch run

once: $(STAMP)
	$(BIN)/wirewatch once

check-config: $(STAMP)
	$(BIN)/wirewatch check-config

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) corpus
	$(BIN)/pytest -q

# feedparser's own test corpus (its sdist's tests/, ~2,200 feeds) for
# tests/pipeline/test_feedparser_corpus.py: downloaded once into .cache/feedparser-tests/;
# trafilatura 1.0.0's real pages with expected text (tests/pipeline/test_article_corpus.py)
# into .cache/trafilatura-tests/.
# Offline this only warns, and that test skips saying why.
.PHONY: corpus
corpus: $(STAMP)
	@$(BIN)/python -m tests.fakes.corpus || \
		echo "warning: could not fetch feedparser's test corpus; its test will skip"
	@$(BIN)/python -m tests.fakes.article_corpus || \
		echo "warning: could not fetch trafilatura's real-page corpus; its test will skip"

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/match_bench.py
	$(BIN)/python bench/poll_bench.py
	$(BIN)/python bench/article_bench.py
	$(BIN)/python bench/text_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
