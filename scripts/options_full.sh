#!/usr/bin/env bash
# The options beyond the paper on the full data (issue #16): one `rounds` run per target
# and option, all from the study's en teacher (3 epochs, lr 2e-4, seed 0) and its stored
# annotations of the unlabeled target text (round 0's probabilities are copied, not
# recomputed). The recipe is the study's student recipe; nothing here is tuned.
# usage: scripts/options_full.sh TARGET OPTION [SEED]   (resumable)
#   OPTION: rounds (2 rounds, the default recipe: start previous, no denoising),
#           denoise (round 0 with neighbour weights, configs/denoise.cfg),
#           confidence (round 0 with the (max p)^2 weight),
#           ensemble (2 rounds as `rounds`, round 0 from the mean of the en teachers of
#           seeds 0 and 1: STUDY/teachers/en-seed1 must exist)
#   SEED: the students' seed (default 0; others go to OPTION-seedN)
#   env STUDY: the `experiment reproduce` folder (default training/reproduce-t3)
#   env OUT: where the runs go (default training/full/options-t3)
# Each run scores its students on the full target test set (argmax, as the study), and
# stores their test probabilities (round-R/test-probs) for both decoders and Fig. 5.
set -euo pipefail
tgt=$1; option=$2; seed=${3:-0}; study=${STUDY:-training/reproduce-t3}
out=${OUT:-training/full/options-t3}/$tgt/$option
[ "$seed" = 0 ] || out=$out-seed$seed
teacher=$study/teachers/en-seed0/model-last
case $option in
  rounds) extra=(--rounds 2 --start previous --no-denoise) ;;
  denoise) extra=(--rounds 1 --denoise) ;;
  confidence) extra=(--rounds 1 --no-denoise --corpora.distill.confidence true) ;;
  ensemble) extra=(--rounds 2 --start previous --no-denoise)
    teacher=$teacher,$study/teachers/en-seed1/model-last ;;
  *) echo "unknown option $option (rounds, denoise, confidence, ensemble)" >&2; exit 2 ;;
esac
mkdir -p "$out/round-0"
exec > >(tee -a "$out/log.txt") 2>&1   # every run's step times, for scripts/options_table.py
probs=$out/round-0/probs
[ "$option" = ensemble ] && probs=$out/round-0/probs-0
[ -d "$probs" ] || cp -r "$study/probs/seed0/en-$tgt" "$probs"
start=$(date +%s)
python -m spacy_tskd rounds "$teacher" "$study/corpus/$tgt/unlabeled.spacy" "$out" \
  "${extra[@]}" --test "$study/corpus/$tgt/test.spacy" --paths.encoder assets/encoder \
  --nlp.lang "$tgt" --distill.epochs 1 --distill.batch_size 8 \
  --distill.optimizer.learn_rate.initial_rate 1e-4 --components.tskd_ner.decode argmax \
  --system.seed "$seed"
for student in "$out"/round-*/student/model-last; do
  round=$(dirname "$(dirname "$student")")
  # the student's test probabilities: both decoders' scores and Fig. 5 (scripts/fig5_probs.py)
  [ -f "$round/test-probs/index.json" ] || python -m spacy_tskd annotate "$student" \
    "$study/corpus/$tgt/test.spacy" "$round/test-probs"
  for decode in argmax viterbi; do
    [ -f "$round/scores-$decode.json" ] || python -m spacy_tskd evaluate-probs \
      "$study/corpus/$tgt/test.spacy" "$round/test-probs" --decode $decode \
      --output "$round/scores-$decode.json"
  done
done
echo "$tgt $option: $(( $(date +%s) - start )) s"
