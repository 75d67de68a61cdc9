#!/usr/bin/env bash
# The CNN student on the full data (docs/performance.md section 3): the same teacher
# annotations, CNN variants side by side, each scored on the target test set with
# nlp.pipe words/s (run the evaluations again on an idle machine for speed).
# usage: scripts/cnn_student_full.sh ANNOTATIONS UNLABELED.spacy TEST.spacy LANG OUT VARIANT...
#   VARIANT: "+"-joined parts: base (configs/student_cnn.cfg as it is), vectors (plus
#   static vectors from the encoder's piece embeddings, `encoder vectors` over UNLABELED),
#   vectors=DIR (a table written beforehand, e.g. `encoder vectors` over more texts),
#   wN (width N), dN (depth N), eN (N epochs; default 12), sN (seed N; default the
#   config's 0); e.g. vectors+w192+d4
#   (resumable: a finished variant is only scored again)
set -euo pipefail
probs=$1; unlabeled=$2; test=$3; lang=$4; out=$5; shift 5
mkdir -p "$out"
enc=--components.tskd_ner.model.encoder
for variant in "$@"; do
  extra=(); epochs=12; name=$variant
  IFS=+ read -ra parts <<< "$variant"
  for part in "${parts[@]}"; do
    case $part in
      base) ;;
      vectors)
        [ -d "$out/vectors-$lang" ] || python -m spacy_tskd encoder vectors assets/encoder \
          "$out/vectors-$lang" --texts "$unlabeled" --lang "$lang"
        extra+=(--paths.vectors "$out/vectors-$lang" "$enc.embed.include_static_vectors" true) ;;
      vectors=*)
        extra+=(--paths.vectors "${part#vectors=}" "$enc.embed.include_static_vectors" true)
        name=${name/"$part"/vectors-$(basename "${part#vectors=}")} ;;
      w[0-9]*) extra+=("$enc.embed.width" "${part#w}") ;;
      d[0-9]*) extra+=("$enc.encode.depth" "${part#d}") ;;
      e[0-9]*) epochs=${part#e} ;;
      s[0-9]*) extra+=(--system.seed "${part#s}") ;;
      *) echo "unknown variant part '$part' in '$variant'" >&2; exit 2 ;;
    esac
  done
  run=$out/cnn-$name
  if [ ! -d "$run/model-last" ]; then
    start=$(date +%s)
    python -m spacy_tskd distill configs/student_cnn.cfg --output "$run" \
      --paths.teacher_probs "$probs" --nlp.lang "$lang" --distill.epochs "$epochs" "${extra[@]}"
    echo "{\"seconds\": $(( $(date +%s) - start ))}" > "$run/wall.json"
  fi
  python -m spacy_tskd evaluate "$run/model-last" "$test" --output "$run/eval.json" \
    --system "CNN-$variant"
done
