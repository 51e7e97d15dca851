# README step 1: `make demo` (setup, then a weak-to-strong run on the offline default). Step 2: `make test`.
VENV := .venv/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test test-fast

setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/w2s-admin demo

test:
	$(VENV)/python -m pytest -q

test-fast:
	$(VENV)/python -m pytest -q -m "not slow"
