#!/usr/bin/env bash
# Set up (first time) and run the whole test suite: real model, real Chroma
# (embedded and a `chroma run` server), real files, a real headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh local,openai,test
if [[ ! -x /usr/bin/chromium ]]; then
    if [[ $(id -u) -eq 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
.venv/bin/python -m ruff check qa tests app.py benchmarks
.venv/bin/python -m mypy qa benchmarks/qa_measure
exec .venv/bin/python -m pytest "$@"
