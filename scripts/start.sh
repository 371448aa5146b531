#!/usr/bin/env bash
# Quick start: install, create the demo accounts, score the sample contracts on the default model,
# then run the app. Safe to run again: accounts and contracts already there are kept (contracts are
# deduplicated by content hash).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/python -m app demo            # the contracts of samples/ (PDF, TXT); new accounts' passwords shown once
PORT="${LEXDORA_PORT:-8501}"
echo "lexdora is starting at http://localhost:${PORT}  (stop with Ctrl+C)"
# 127.0.0.1: the demo is for this machine only; serving others needs TLS and real accounts in front.
exec .venv/bin/python -m streamlit run streamlit_app.py --server.headless true --server.port "$PORT" \
  --server.address 127.0.0.1 --browser.gatherUsageStats false
