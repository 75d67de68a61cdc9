#!/usr/bin/env bash
# The CNN student on the full data (docs/performance.md section 3): the same teacher
# annotations, CNN variants side by side, each scored on the target test set with
# nlp.pipe words/s (run the evaluations again on an idle machine for speed).
# usage: scripts/cnn_student_full.sh ANNOTATIONS UNLABELED.spacy TEST.spacy LANG OUT VARIANT...
#   VARIANT: base (configs/student_cnn.cfg as it is) or vectors (plus static vectors
#   from the encoder's piece embeddings, `encoder vectors` over UNLABELED)   (resumable)
set -euo pipefail
probs=$1; unlabeled=$2; test=$3; lang=$4; out=$5; shift 5
mkdir -p "$out"
for variant in "$@"; do
  extra=()
  if [ "$variant" = vectors ]; then
    [ -d "$out/vectors-$lang" ] || python -m spacy_tskd encoder vectors assets/encoder \
      "$out/vectors-$lang" --texts "$unlabeled" --lang "$lang"
    extra=(--paths.vectors "$out/vectors-$lang"
      --components.tskd_ner.model.encoder.embed.include_static_vectors true)
  fi
  run=$out/cnn-$variant
  if [ ! -d "$run/model-last" ]; then
    start=$(date +%s)
    python -m spacy_tskd distill configs/student_cnn.cfg --output "$run" \
      --paths.teacher_probs "$probs" --nlp.lang "$lang" --distill.epochs 12 "${extra[@]}"
    echo "{\"seconds\": $(( $(date +%s) - start ))}" > "$run/wall.json"
  fi
  python -m spacy_tskd evaluate "$run/model-last" "$test" --output "$run/eval.json" \
    --system "CNN-$variant"
done
