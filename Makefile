# Two commands get a newcomer going: `make run` and `make test` (see README.md).

# The newest supported interpreter that runs here (a pyenv shim without its version fails and is
# passed over): the service gets Django 6.1 on Python 3.12+, the 5.2 LTS on 3.11.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
# What `make run` needs (requirements.txt) and what tests, lint and benchmarks add
# (requirements-dev.txt, which includes requirements.txt): a change to either file reinstalls.
RUN_STAMP := $(VENV)/.requirements-installed
DEV_STAMP := $(VENV)/.requirements-dev-installed
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint docs bench venv clean

$(RUN_STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(RUN_STAMP)

# The development set holds the runtime one, so installing it brings both up to date.
$(DEV_STAMP): requirements-dev.txt requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(RUN_STAMP) $(DEV_STAMP)

# The development environment: everything `make test`, `make lint` and `make bench` use.
venv: $(DEV_STAMP)

# Development server: SQLite, in-memory channel layer and local-memory cache unless
# DATABASE_URL / REDIS_URL say otherwise; ENVIRONMENT defaults to development here only.
# Everything it prints is a log record (JSON lines unless LOG_FORMAT=console): the commands are
# not echoed, migrate runs quietly, and demo_user's lines, the token in them, are logged as
# messages of accounts.demo_user (in the message: the redacting filter masks extras named like
# "token"). The tasks worker (`manage.py db_worker`: the webhook's deliveries) runs next to
# daphne and stops when daphne does, after the task it is running (Ctrl+C reaches both).
run: $(RUN_STAMP)
	@ENVIRONMENT=$${ENVIRONMENT:-development} $(BIN)/python manage.py migrate --noinput -v 0
	@ENVIRONMENT=$${ENVIRONMENT:-development} PORT=$(PORT) DJANGO_SETTINGS_MODULE=cortex.settings $(BIN)/python -c 'import io, logging, django; django.setup(); from django.core.management import call_command; out = io.StringIO(); call_command("demo_user", stdout=out); list(map(logging.getLogger("accounts.demo_user").info, out.getvalue().splitlines()))'
	@ENVIRONMENT=$${ENVIRONMENT:-development} $(BIN)/python manage.py db_worker --no-reload & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 143' TERM; \
	trap 'wait $$worker; exit 130' INT; \
	ENVIRONMENT=$${ENVIRONMENT:-development} $(BIN)/daphne -b 127.0.0.1 -p $(PORT) cortex.asgi:application

test: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy errors cortex accounts eventstream workspaces console safewrites tests bench noxfile.py

# The documentation site of the `errors` app (mkdocs.yml): every warning is an error.
docs: $(DEV_STAMP)
	$(BIN)/mkdocs build --strict --quiet --site-dir build/docs

# The service on PostgreSQL under 50 clients for 30 s, on one daphne process and on two.
LOAD_AT_SCALE = --create-postgres --connections 50 --seconds 30 --scenarios get,not_found,list,create,duplicate,invalid

bench: $(DEV_STAMP)
	$(BIN)/python -m bench.overhead
	$(BIN)/python -m bench.logfmt
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.sse $(if $(REDIS_URL),--redis-url $(REDIS_URL))
	$(if $(filter postgres%,$(DATABASE_URL)),$(foreach n,1 2,$(BIN)/python -m bench.load $(LOAD_AT_SCALE) --processes $(n) --database-url $(DATABASE_URL) $(if $(REDIS_URL),--redis-url $(REDIS_URL)) &&) true,@echo "bench.load at scale skipped: it needs DATABASE_URL=postgres://…")
	$(if $(filter postgres%,$(DATABASE_URL)),$(BIN)/python -m bench.degradation --database-url $(DATABASE_URL) $(if $(REDIS_URL),--redis-url $(REDIS_URL)),@echo "bench.degradation skipped: it needs DATABASE_URL=postgres://…")

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .nox

# Schemathesis against a running daphne with many more cases than CI's (tests/test_fuzz.py).
FUZZ_MAX_EXAMPLES ?= 500
.PHONY: fuzz
fuzz: $(DEV_STAMP)
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) $(BIN)/python -m pytest tests/test_fuzz.py -s $(PYTEST_ARGS)
