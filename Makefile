# Two commands do all the set-up on a fresh machine: `make slides` and `make test`.
# Both create .venv from requirements.lock and install Debian's TeX Live when it is missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TEX_PACKAGES  := latexmk texlive-latex-recommended texlive-pictures lmodern
TEST_PACKAGES := poppler-utils chromium libatomic1

# $(call apt,PACKAGES): install Debian packages when we can (root + apt-get), else say the command.
define apt
if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	echo "nnarch: installing $(1) from Debian's packages (once)"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1) >/dev/null \
	|| { echo "nnarch: apt-get failed; run: sudo apt-get install $(1)"; exit 1; }; \
else \
	echo "nnarch: missing system packages. Run: sudo apt-get install $(1)"; exit 1; \
fi
endef

.PHONY: slides test test-fast lint check bench bench-env serve clean tex test-tools help fresh-check
help:
	@echo "make slides   build every lecture into build/ (PDF, HTML, report.json)"
	@echo "make test     run the test suite (every tier, two processes)"
	@echo "make test-fast  the unit tier only: no training, LaTeX, browser or kernel (under a minute)"
	@echo "make lint     ruff check, ruff format --check, mypy"
	@echo "make check    validate the topic modules without training"
	@echo "make serve    build, serve build/ at http://127.0.0.1:8000/ and rebuild on every save"
	@echo "make fresh-check  make slides and make test in a new Debian 12 root (root; about 10 minutes)"
	@echo "make bench    time nnarch against plain scripts and its peers (not part of make test)"
	@echo "make clean    remove build/"

$(BIN)/.installed: requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "nnarch: $(PYTHON) not found; install Python 3.11"; exit 1; }
	@echo "nnarch: installing the pinned packages into $(VENV) (about 1.6 GB with torch's CPU build; minutes, once)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(PIP_ARGS) -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

tex:
	@if ! command -v latexmk >/dev/null 2>&1 || ! kpsewhich beamer.cls lmodern.sty pgf.sty >/dev/null 2>&1; then \
		$(call apt,$(TEX_PACKAGES)); fi

test-tools:
	@if ! command -v pdftotext >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 \
		|| ! ldconfig -p 2>/dev/null | grep -q libatomic.so.1; then \
		$(call apt,$(TEST_PACKAGES)); fi

slides: $(BIN)/.installed tex
	$(BIN)/nnarch build

check: $(BIN)/.installed
	$(BIN)/nnarch check

test: $(BIN)/.installed tex test-tools
	$(BIN)/python -m pytest -n 2

test-fast: $(BIN)/.installed tex
	$(BIN)/python -m pytest -m "not slow"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

serve: $(BIN)/.installed tex
	$(BIN)/nnarch serve

# The peers (Jupyter Book, sphinx-gallery) in their own environment, so their pins never meet ours.
.venv-bench/bin/.installed: bench/requirements.lock pyproject.toml
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.lock
	.venv-bench/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

bench-env: .venv-bench/bin/.installed

# The README's two commands in a new Debian 12 root (debootstrap; the root is cached): see tests/fresh/.
fresh-check:
	bash tests/fresh/fresh_check.sh

bench: $(BIN)/.installed tex bench-env
	$(BIN)/python bench/run.py

clean:
	rm -rf build
