#!/usr/bin/env bash
# Choose the rounds recipe (start, denoise) on English, never on target labels.
# The teacher of `all` was trained on the first 1000 English training sentences; the
# next 4000 are read as unlabeled text (their labels are never read) and every round's
# student is scored on English dev. Four runs of two rounds: start plain or previous,
# with and without neighbour denoising; runs with the same denoise share round 0.
# usage: scripts/choose_rounds_en.sh TEACHER [DATA_DIR] [OUT]   (resumable)
set -euo pipefail
teacher=$1; data=${2:-../shared/data}/conll; out=${3:-training/choose-rounds-en}
mkdir -p "$out/corpus"
[ -f "$out/corpus/unlabeled.spacy" ] || python -m spacy_tskd convert "$data/en/train.txt" \
  "$out/corpus/unlabeled.spacy" --lang en --skip-sents 1000 --max-sents 4000
[ -f "$out/corpus/dev.spacy" ] || python -m spacy_tskd convert "$data/en/dev.txt" \
  "$out/corpus/dev.spacy" --lang en
# the student recipe of the `rounds` workflow (project.yml vars)
recipe=(--paths.encoder assets/encoder --nlp.lang en --distill.epochs 1 --distill.batch_size 8
  --distill.optimizer.learn_rate.initial_rate 1e-4 --components.tskd_ner.decode viterbi)
for denoise in no-denoise denoise; do
  for start in plain previous; do
    run=$out/$start-$denoise
    if [ "$start" = previous ] && [ ! -d "$run/round-0" ]; then
      mkdir -p "$run" && cp -r "$out/plain-$denoise/round-0" "$run/round-0"  # shared round 0
    fi
    start_s=$(date +%s)
    python -m spacy_tskd rounds "$teacher" "$out/corpus/unlabeled.spacy" "$run" --rounds 2 \
      --start $start --$denoise --test "$out/corpus/dev.spacy" "${recipe[@]}"
    echo "{\"run\": \"$start-$denoise\", \"seconds\": $(( $(date +%s) - start_s ))}" >> "$out/wall.jsonl"
  done
done
python - "$out" <<'PY'
import json, sys
from pathlib import Path
for run in sorted(Path(sys.argv[1]).glob("*-*denoise")):
    f1 = [json.loads((r / "scores.json").read_text())["ents_f"] for r in sorted(run.glob("round-*"))]
    print(run.name, " ".join(f"{100 * f:.2f}" for f in f1))
PY
