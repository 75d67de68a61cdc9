#!/usr/bin/env bash
# Package a trained student with `spacy package` and load it in a fresh virtualenv.
# Usage: scripts/check_package.sh PIPELINE_DIR [WORK_DIR]
# The package's requirements name this plugin (spacy-tskd); it is installed from this
# checkout because spacy-tskd is not on PyPI.
set -euo pipefail
pipeline=${1:?pipeline directory}
work=${2:-build/package-check}
repo=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$work" && mkdir -p "$work/packages"
python -m spacy package "$pipeline" "$work/packages" --name tskd_student --version 0.1.0 --force
sdist=$(ls "$work"/packages/*/dist/*.tar.gz)
python -c "import json,sys; m=json.load(sys.stdin); print('requirements:', m['requirements']); assert any(r.startswith('spacy-tskd') for r in m['requirements'])" < "$(ls "$work"/packages/*/meta.json)"
python -m venv "$work/venv"
"$work/venv/bin/pip" install -q torch==2.13.0
"$work/venv/bin/pip" install -q "$repo"
"$work/venv/bin/pip" install -q "$sdist"
cd "$work"
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 venv/bin/python - <<'PY'
import spacy
nlp = spacy.load("xx_tskd_student")
doc = nlp("El presidente Pedro Sánchez viajó a Bruselas con la Comisión Europea .")
print([(e.text, e.label_) for e in doc.ents])
print("loaded from", nlp.path)
PY
