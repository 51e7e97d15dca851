# README step 1: `make demo` (setup, then the main job on the offline default: three sandboxed evolve agents
# research `sentiment` for a bounded time and the leaderboard closes it). Step 2: `make test`.
VENV := .venv/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo demo-baseline test test-fast lint
DEMO_MINUTES ?= 10

setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/w2s-admin results calibrate --dataset sentiment --seeds 0 --out runs/calibration
	$(VENV)/orchestrator launch --n 3 --agent evolve --dataset sentiment --minutes $(DEMO_MINUTES) --follow

# The single-idea pipeline the launch replaced as step 1: calibrate, vanilla_w2s through the trainer, score.
demo-baseline: setup
	$(VENV)/w2s-admin demo

test:
	$(VENV)/python -m pytest -q

test-fast:
	$(VENV)/python -m pytest -q -m "not slow"

lint:
	$(VENV)/ruff check .
