#!/usr/bin/env bash
# Round-0 options beyond the paper, measured on English (never on target labels):
# the (max p)^2 confidence weight and a two-seed teacher ensemble. Same English split
# and student recipe as scripts/choose_rounds_en.sh (run it first: its round 0 without
# denoising is the baseline here, and its annotations are reused).
# usage: scripts/options_en.sh TEACHER TEACHER_TRAIN.spacy TEACHER_DEV.spacy [OUT]  (resumable)
#   TEACHER_TRAIN/DEV: the data TEACHER was trained on (the second seed uses the same)
set -euo pipefail
teacher=$1; train=$2; dev=$3; out=${4:-training/choose-rounds-en}
base=$out/plain-no-denoise/round-0
recipe=(--paths.encoder assets/encoder --nlp.lang en --distill.epochs 1 --distill.batch_size 8
  --distill.optimizer.learn_rate.initial_rate 1e-4 --components.tskd_ner.decode viterbi)
rounds() {  # run teacher(s) extra...
  local run=$1 teachers=$2; shift 2
  python -m spacy_tskd rounds "$teachers" "$out/corpus/unlabeled.spacy" "$out/$run" --rounds 1 \
    --no-denoise --test "$out/corpus/dev.spacy" "${recipe[@]}" "$@"
}
[ -f "$out/teacher-mt.json" ] || python -m spacy_tskd evaluate "$teacher" "$out/corpus/dev.spacy" \
  --output "$out/teacher-mt.json" --system MT
# the (max p)^2 weight (MTMT) on round 0's targets
mkdir -p "$out/confidence/round-0"
[ -d "$out/confidence/round-0/probs" ] || cp -r "$base/probs" "$out/confidence/round-0/probs"
rounds confidence "$teacher" --corpora.distill.confidence true
# a second teacher: the same recipe as `all`'s with seed 1; round 0 learns the mean
seed1=$out/teacher-seed1
[ -d "$seed1/model-last" ] || python -m spacy_tskd train-teacher configs/teacher.cfg \
  --output "$seed1" --paths.train "$train" --paths.dev "$dev" --paths.encoder assets/encoder \
  --training.max_epochs 4 --training.optimizer.learn_rate.initial_rate 5e-4 \
  --components.tskd_ner.decode viterbi --nlp.lang en --system.seed 1
[ -f "$out/teacher-seed1-mt.json" ] || python -m spacy_tskd evaluate "$seed1/model-last" \
  "$out/corpus/dev.spacy" --output "$out/teacher-seed1-mt.json" --system MT-seed1
mkdir -p "$out/ensemble/round-0"
[ -d "$out/ensemble/round-0/probs-0" ] || cp -r "$base/probs" "$out/ensemble/round-0/probs-0"
rounds ensemble "$teacher,$seed1/model-last"
for f in "$out"/teacher-*mt.json "$out"/confidence/round-0/scores.json "$out"/ensemble/round-0/scores.json; do
  python -c "import json,sys; s=json.load(open(sys.argv[1])); print(sys.argv[1], round(100*s['ents_f'],2))" "$f"
done
