# labkit: `make run` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.labkit-installed
PYTEST := $(BIN)/python -m pytest

.PHONY: setup run test test-fast test-full test-ui notebooks lab lint format clean help

help:
	@echo "make run        set up, start the emulator, run the course end to end (output/)"
	@echo "make test       set up and run the whole test suite"
	@echo "make test-fast  the quick inner loop (no slow or browser tests)"
	@echo "make test-full  every chapter on its own and twice in a row"
	@echo "make notebooks  re-run the chapters in place (their committed outputs)"
	@echo "make lab        JupyterLab on notebooks/ with the emulator running"
	@echo "make lint       ruff"
	@echo "make clean      stop the emulator, remove its state and outputs"
	@echo "make bench      benchmarks: figures in benchmarks/results/<date>.json and .md"
	@echo "make solutions  regenerate notebooks/solutions/ (instructor copies, exercises solved)"

# Rebuilt only when pyproject.toml changes, so a second `make setup` does nothing.
setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "labkit needs Python 3.10 or newer; found " + sys.version.split()[0])'
	@command -v git >/dev/null || { echo "labkit needs git: install it and run make again"; exit 1; }
	@command -v node >/dev/null || echo "warning: Node.js 20 is not installed; builds and deployments of the sample app need it (docs/troubleshooting.md)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(BIN)/labkit emulator start
	$(BIN)/labkit run --output output

test: setup
	$(PYTEST)
	$(PYTEST) --nbval notebooks/[0-9][0-9]-*.ipynb --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

# Each chapter on its own and twice in a row, with the exercises solved, and a whole `labkit run` (slow).
test-full: setup
	$(PYTEST) -m full tests/test_course.py tests/test_runner_series.py

# Re-execute the chapters in place against a fresh emulator: nbval's reference outputs.
notebooks: setup
	$(BIN)/python -m labkit.notebook_refresh

test-fast: setup
	$(PYTEST) -m "not slow and not ui and not full" -x

test-ui: setup
	$(PYTEST) -m ui

lab: setup
	$(BIN)/labkit emulator start
	$(BIN)/jupyter lab notebooks/

lint: setup
	$(BIN)/ruff check labkit tests benchmarks

format: setup
	$(BIN)/ruff format labkit tests benchmarks

clean:
	-@test -x $(BIN)/labkit && $(BIN)/labkit emulator stop 2>/dev/null; true
	rm -rf .labkit output

# Figures, never assertions: benchmarks/README.md explains each one (about 12 minutes on 2 cores).
.PHONY: bench
bench: setup
	$(BIN)/python -m benchmarks

# Instructor copies of the chapters with every exercise solved, generated from the chapters and
# labkit/exercises (tests/test_workshop_solutions.py fails when they are out of date).
.PHONY: solutions
solutions: setup
	$(BIN)/python -m labkit.workshop.solutions
