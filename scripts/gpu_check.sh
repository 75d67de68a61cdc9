#!/usr/bin/env bash
# The small `all` workflow on one GPU, recorded in docs/perf/gpu_all-en-es.json (device
# name, wall time, F1), after checking that torch and CuPy see the GPU; then asserts that
# the student trained on it (its meta says gpu:N). Run it whenever a GPU is lent.
# Needs: pip install torch (a CUDA build) && pip install -e ".[project,cuda12x]"
# Usage: scripts/gpu_check.sh [GPU_ID] [--vars.x VALUE ...]   (from the project root)
set -euo pipefail
cd "$(dirname "$0")/.."
gpu=${1:-0}
shift || true
python - "$gpu" <<'PY'
import sys
import torch
gpu = int(sys.argv[1])
assert torch.cuda.is_available(), "torch sees no GPU: install torch's CUDA build"
import cupy  # noqa: F401  (spacy[cuda12x]: thinc's GPU ops)
import spacy
spacy.require_gpu(gpu)
print("GPU", gpu, torch.cuda.get_device_name(gpu))
PY
python scripts/record_run.py all docs/perf/gpu_all-en-es.json \
  --scores MT=metrics/en-es/MT.json --scores TS=metrics/en-es/TS.json -- --vars.gpu_id "$gpu" "$@"
python - "$gpu" <<'PY'
import json, sys
meta = json.load(open("training/student-en-es/model-last/meta.json"))
device = meta["tskd"]["device"]
assert device == f"gpu:{sys.argv[1]}", f"the student trained on {device}, not the GPU"
print("student trained on", device)
PY
