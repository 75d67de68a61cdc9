#!/usr/bin/env bash
# Choose the student's distillation loss on English, never on target labels, with the
# full-data teacher recipe (3 epochs, lr 2e-4). The teacher learns from the first 10,000
# English training sentences; the other 4,041 are read as unlabeled text (their labels
# are never read); each student (the study's recipe: 1 epoch, lr 1e-4, batch 8) is scored
# on English dev. Losses: mse (the paper), hard (HL: the teacher's argmax), soft_ce
# (cross-entropy on the teacher's distribution). Round 0's annotations are shared.
# usage: scripts/choose_loss_en.sh [DATA_DIR] [OUT]   (resumable; about 20 min for the
#   teacher and 10 min per loss on a 2-core CPU)
set -euo pipefail
data=${1:-../shared/data}/conll; out=${2:-training/choose-loss-en}
mkdir -p "$out/corpus"
conv() {  # name file extra...
  [ -f "$out/corpus/$1.spacy" ] || python -m spacy_tskd convert "$data/en/$2.txt" \
    "$out/corpus/$1.spacy" --lang en "${@:3}"
}
conv train train --max-sents 10000
conv unlabeled train --skip-sents 10000
conv dev dev
teacher=$out/teacher
[ -d "$teacher/model-last" ] || python -m spacy_tskd train-teacher configs/teacher.cfg \
  --output "$teacher" --paths.train "$out/corpus/train.spacy" --paths.dev "$out/corpus/dev.spacy" \
  --paths.encoder assets/encoder --nlp.lang en
recipe=(--paths.encoder assets/encoder --nlp.lang en --distill.epochs 1 --distill.batch_size 8
  --distill.optimizer.learn_rate.initial_rate 1e-4 --components.tskd_ner.decode viterbi)
for loss in mse hard soft_ce; do
  run=$out/$loss
  if [ "$loss" != mse ] && [ ! -d "$run/round-0/probs" ]; then
    mkdir -p "$run/round-0" && cp -r "$out/mse/round-0/probs" "$run/round-0/probs"
  fi
  start=$(date +%s)
  python -m spacy_tskd rounds "$teacher/model-last" "$out/corpus/unlabeled.spacy" "$run" \
    --rounds 1 --no-denoise --test "$out/corpus/dev.spacy" "${recipe[@]}" \
    --components.tskd_ner.distill_loss "$loss"
  echo "{\"loss\": \"$loss\", \"seconds\": $(( $(date +%s) - start ))}" >> "$out/wall.jsonl"
done
[ -f "$out/teacher-mt.json" ] || python -m spacy_tskd evaluate "$teacher/model-last" \
  "$out/corpus/dev.spacy" --output "$out/teacher-mt.json" --system MT
python - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("MT (teacher)", f"{100 * json.loads((out / 'teacher-mt.json').read_text())['ents_f']:.2f}")
for loss in ("mse", "hard", "soft_ce"):
    f1 = json.loads((out / loss / "round-0" / "scores.json").read_text())["ents_f"]
    print(loss, f"{100 * f1:.2f}")
PY
