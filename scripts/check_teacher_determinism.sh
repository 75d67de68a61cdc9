#!/usr/bin/env bash
# Does the teacher's training depend on settings that should not matter, or on the run?
# Trains three small English teachers (first N sentences, 1 epoch) into OUT: twice with the
# sweep's settings (dev subset 300, nlp.lang xx), once with the study's (dev 1,000, lang en),
# and prints the sha256 of each one's weights (docs/results.md, "Two teachers of one recipe").
# usage: scripts/check_teacher_determinism.sh [N=1500] [OUT=/tmp/det]   (corpus_full/en from
# scripts/teacher_sweep.sh)
set -euo pipefail
n=${1:-1500}; out=${2:-/tmp/det}
run() {  # name, extra overrides
  [ -d "$out/$1/model-last" ] || python -m spacy_tskd train-teacher configs/teacher.cfg \
    --output "$out/$1" --paths.train corpus_full/en/train.spacy \
    --paths.dev corpus_full/en/dev.spacy --paths.encoder assets/encoder \
    --corpora.train.limit "$n" --training.max_epochs 1 "${@:2}" > "$out/$1.log" 2>&1
  echo "$1 $(sha256sum "$out/$1/model-last/tskd_ner/model" | cut -c1-16)"
}
mkdir -p "$out"
run sweep-like --corpora.dev.limit 300
run sweep-like-again --corpora.dev.limit 300
run study-like --nlp.lang en
