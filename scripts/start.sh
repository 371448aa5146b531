#!/usr/bin/env bash
# Quick start: install, create the demo accounts, score the sample contracts on the default model,
# then run the app and its scoring worker. Safe to run again: accounts and contracts already there
# are kept (contracts are deduplicated by content hash).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/python -m app demo            # the contracts of samples/ (PDF, TXT); new accounts' passwords shown once
PORT="${LEXDORA_PORT:-8501}"
# The worker scores uploads in the background (app/worker.py); it stops with the app. On its next start
# it resumes any contract it had not finished.
mkdir -p var
.venv/bin/python -m app worker >>var/worker.log 2>&1 &
WORKER_PID=$!
trap 'kill "$WORKER_PID" 2>/dev/null; wait "$WORKER_PID" 2>/dev/null || true' EXIT
echo "scoring worker started (pid $WORKER_PID, log var/worker.log)"
echo "lexdora is starting at http://localhost:${PORT}  (stop with Ctrl+C)"
# 127.0.0.1: the demo is for this machine only; serving others needs TLS and real accounts in front.
.venv/bin/python -m streamlit run streamlit_app.py --server.headless true --server.port "$PORT" \
  --server.address 127.0.0.1 --browser.gatherUsageStats false
