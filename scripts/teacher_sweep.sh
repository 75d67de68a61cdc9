#!/usr/bin/env bash
# Full-data teacher recipes, chosen on English dev only (docs/results.md, "Teacher recipe").
# usage: scripts/teacher_sweep.sh EPOCHS LR [DATA_DIR]   (resumable: finished outputs are kept)
# For each recipe: train on all English training sentences, store the teacher's
# probabilities on en dev/test and es/nl/de test once, score them with both decoders.
set -euo pipefail
epochs=$1; lr=$2; data=${3:-../shared/data}/conll
out=training/sweep; name=teacher-e${epochs}-lr${lr}
mkdir -p corpus_full "$out/probs" metrics/sweep
convert() {  # lang split
  [ -f "corpus_full/$1/$2.spacy" ] || python -m spacy_tskd convert "$data/$1/$2.txt" "corpus_full/$1/$2.spacy" --lang "$1"
}
convert en train; convert en dev; convert en test
for l in es nl de; do convert $l test; done
if [ ! -d "$out/$name/model-last" ]; then
  start=$(date +%s)
  python -m spacy_tskd train-teacher configs/teacher.cfg --output "$out/$name" \
    --paths.train corpus_full/en/train.spacy --paths.dev corpus_full/en/dev.spacy \
    --paths.encoder assets/encoder --corpora.dev.limit 300 \
    --training.max_epochs "$epochs" --training.optimizer.learn_rate.initial_rate "$lr"
  echo "{\"teacher\": \"$name\", \"train_seconds\": $(( $(date +%s) - start ))}" > "$out/$name/wall.json"
fi
for split in en/dev en/test es/test nl/test de/test; do
  tag=${split/\//-}; probs=$out/probs/$name-$tag
  python -m spacy_tskd annotate "$out/$name/model-last" "corpus_full/$split.spacy" "$probs"  # resumes
  for decode in argmax viterbi; do
    python -m spacy_tskd evaluate-probs "corpus_full/$split.spacy" "$probs" --decode $decode \
      --system "$name" --output "metrics/sweep/$name-$tag-$decode.json" > /dev/null
  done
done
echo "done: $name"
