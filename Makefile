# sendgate: every command installs what it needs first (a venv in .venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Local development keys for `make run`; set your own in production.
SENDGATE_API_KEYS ?= sender:dev-sender-key,reviewer:dev-reviewer-key,admin:dev-admin-key
export SENDGATE_API_KEYS

.PHONY: install run test lint typecheck unit train loso bench bench-http mlflow-ui clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## Start the service on 127.0.0.1:8000 (trains a default model first if none exists).
run: install
	$(BIN)/sendgate serve

## The whole test suite: lint, types, tests (PostgreSQL and corpora included when present).
test: install lint typecheck unit

lint: install
	$(BIN)/ruff check model training serve tests

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

## Train on every corpus plus the seed set; log to MLflow; promote if better.
## Extra labelled files (e.g. a review export): make train TRAIN_ARGS="--extra reviews.csv"
TRAIN_ARGS ?=
train: install
	$(BIN)/sendgate train $(TRAIN_ARGS)

## Leave-one-source-out table (docs/loso.md).
loso: install
	$(BIN)/sendgate loso --output docs/loso.md

## Every speed figure (model, rules, HTTP vs MLflow, training 10k/100k/1M), printed and
## written to docs/benchmarks.md; about 20 minutes. No timed assertions anywhere.
bench: install
	$(BIN)/python -m training.bench

## HTTP only: /v1/check against `mlflow models serve` on the champion (needs a champion).
bench-http: install
	$(BIN)/python -m training.bench_http

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///.sendgate/mlflow.db --port 5000

clean:
	rm -rf $(VENV) .sendgate .pytest_cache .mypy_cache .ruff_cache
