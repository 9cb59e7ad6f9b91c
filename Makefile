# kameng: the two commands are `make run` and `make test`; everything else is here for them.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_WORKERS ?= 2

.PHONY: install run test test-fast lint bench clean lock

install: $(STAMP)

# requirements.lock pins every package (make lock writes it): CI and operators install the same versions.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

# WeChat Pay and Alipay run through their SDKs against local protocol simulators (KAMENG_CHANNELS=off
# to leave every channel on the plain local simulator).
run: install
	KAMENG_CHANNELS=$${KAMENG_CHANNELS:-simulators} $(VENV)/bin/kameng serve

test: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/kameng simulate --check ../shared/scenarios > /dev/null
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

test-fast: install
	$(VENV)/bin/pytest -x -q -m "not browser"

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

bench: install
	$(PY) bench/run.py

# A fresh environment with the newest versions pyproject.toml allows, frozen into requirements.lock.
lock:
	rm -rf .lock-venv
	python3 -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	( echo "# Every package of kameng[dev] (which includes pdf and postgres), as resolved by make lock."; \
	  echo "# Used as constraints: pip install -c requirements.lock -e '.[dev]' (or '.[pdf,postgres]')."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable ) > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var/*.db .pytest_cache .mypy_cache .ruff_cache
