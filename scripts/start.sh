#!/usr/bin/env bash
# Quick start: install, then run the product on the embedded default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/python -m app ingest samples/* > /dev/null
echo "Sample contracts ingested."
