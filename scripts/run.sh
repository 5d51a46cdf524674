#!/usr/bin/env bash
# Set up (first time) and start the web app on the embedded store.
# The first start on an empty store ingests seeds/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh local,openai
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
export QA_LLM="${QA_LLM:-local}"
exec .venv/bin/streamlit run app.py --server.headless true --browser.gatherUsageStats false "$@"
