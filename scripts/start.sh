#!/usr/bin/env bash
# Quick start: install, create the demo accounts, score the sample contracts on the default model,
# then run the app. Safe to run again: accounts and contracts already there are kept (contracts are
# deduplicated by content hash).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/python -m app demo            # the contracts of samples/ (PDF, TXT)
PORT="${LEXDORA_PORT:-8501}"
echo "lexdora is starting at http://localhost:${PORT}  (stop with Ctrl+C)"
exec .venv/bin/python -m streamlit run streamlit_app.py --server.headless true --server.port "$PORT" \
  --browser.gatherUsageStats false
