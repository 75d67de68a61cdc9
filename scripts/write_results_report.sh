#!/usr/bin/env bash
# Writes docs/results.md from the study's result files (both teacher recipes), keeping the
# hand-written sections. MADE_BY lists the commands that made the results, with their wall
# times: add a line for every study run whose results are committed.
# usage: scripts/write_results_report.sh
set -euo pipefail
MADE_BY=(
  "# 2026-11-25 to 30, with project.yml's vars of then: repro_dir training/reproduce, repro_results results, repro_teacher_epochs 1, repro_teacher_lr 1e-4"
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only single --vars.repro_targets es   # 3,231 s wall, 2-core CPU'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only single --vars.repro_targets nl   # stopped after its MT result (62.5 s)'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only single --vars.repro_targets de   # stopped after its MT result (51.9 s)'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only single --vars.repro_targets nl,de   # stopped when HL nl began (1,053 s: annotation 170 s, TS student 785 s)'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only single --vars.repro_systems TS --vars.repro_targets de   # 1,051 s'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only multi --vars.repro_systems MT-avg,MT-sim --vars.repro_targets es,nl,de   # 2,981 s (teachers de 630 s, nl 598 s, es 642 s; sim embeddings 650 s)'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only multi --vars.repro_systems MT-avg,MT-sim --vars.repro_targets es,nl,de   # 17.6 s: the six results above recomputed from the stored probabilities after results gained alpha (same F1)'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only single --vars.repro_systems HL --vars.repro_targets nl,de   # 2,252 s'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only multi --vars.repro_systems TS-avg,TS-sim --vars.repro_targets es,nl,de   # stopped when TS-sim es began (1,352 s for TS-avg es: annotation 224 s + 216 s, student 866 s)'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only multi --vars.repro_systems TS-sim --vars.repro_targets es   # 953 s (student 898 s)'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only multi --vars.repro_systems TS-avg,TS-sim,TS-cosine,TS-l2 --vars.repro_targets es,nl,de   # stopped during the TS-l2 es student to apply commit 70a926d (948 s for TS-cosine es: weights 14 s, student 881 s); every student above was trained before commit 70a926d, which seeds the student'"'"'s initial weights and dropout (before it, the seed fixed only the batch order)'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only multi --vars.repro_systems TS-avg,TS-sim,TS-cosine,TS-l2 --vars.repro_targets es,nl,de   # stopped when TS-cosine de began (about 8,380 s for TS-l2 es, TS-avg/sim/cosine/l2 nl and TS-avg/sim de; annotating nl 194 s + 204 s, de 217 s + 214 s)'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only multi --vars.repro_systems TS-cosine,TS-l2 --vars.repro_targets de   # 2,264 s (TS-cosine de 1,120 s: weights 14 s, student 1,039 s; TS-l2 de 1,134 s: weights 7 s, student 1,049 s)'
  'spacy project run reproduce-study . --vars.repro_seeds 1 --vars.repro_only single --vars.repro_targets es   # 3,226 s (teacher en seed 1 721 s; MT es 776 s with the teacher; TS es 1,337 s: annotation 250 s, student 1,027 s; HL es 1,090 s)'
  'spacy project run reproduce-study . --vars.repro_seeds 1 --vars.repro_only single --vars.repro_targets nl   # 2,917 s (MT nl 102 s; TS nl 1,477 s: annotation 249 s; HL nl 1,328 s: student 1,223 s)'
  'spacy project run reproduce-study . --vars.repro_seeds 1 --vars.repro_only single --vars.repro_systems MT --vars.repro_targets de   # 228 s; by mistake two copies of this command ran at once (a queued one and one by hand), so its time (annotating de test 213 s here, 50 s at seed 0) is for two processes sharing the 2 cores; both wrote the same F1'
  '# 2026-12-01, the teacher recipe chosen on English dev (3 epochs, lr 2e-4): repro_dir training/reproduce-t3, repro_results results-t3'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only single --vars.repro_targets es,nl,de   # started 03:56, stopped after annotating es (teacher en 1,700 s, es unlabeled 243 s); run again 04:55-06:37: 6,125 s for the rest (students 692-1,420 s each, the longest sharing the CPU with tests; about 6 min paused)'
  'spacy project run reproduce-study . --vars.repro_seeds 0 --vars.repro_only multi --vars.repro_targets es   # 2026-12-01 10:20, stopped at 10:53 during teacher en to go on with Ray (teacher de 1,781 s, kept)'
  'python -m scripts.study reproduce training/reproduce-t3 --results results/study --seeds 0 --only multi --systems all --targets es --data-dir ../shared/data --conll conll --encoder assets/encoder --teacher-epochs 3 --teacher-lr 0.0002 --student-epochs 1 --student-lr 0.0001 --student-batch 8 --decode argmax --gpu-id -1 --ray local --ray-cpus 1   # 5,690 s (10:53-12:28); two 1-thread Ray tasks at a time on the 2 cores, so each step took longer than alone (teachers en 2,167 s and nl 2,333 s side by side; weights sim 738 s and cosine 597 s side by side, both embedding the same sentences; annotations 54-261 s; students about 1,050 s)'
  'python -m scripts.study reproduce training/reproduce-t3 --results results/study --seeds 0 --only multi --systems all --targets nl,de --data-dir ../shared/data --conll conll --encoder assets/encoder --teacher-epochs 3 --teacher-lr 0.0002 --student-epochs 1 --student-lr 0.0001 --student-batch 8 --decode argmax --gpu-id -1 --ray local --ray-cpus 1   # 7,528 s (2026-12-01 13:05-15:11; the de, en and nl teachers of the es run above reused); two 1-thread Ray tasks at a time (teacher es 2,250 s; annotations 64-395 s; students 1,018-1,206 s); CI ran beside it for its first 6 min and another workflow for its last 5'
)
args=()
for line in "${MADE_BY[@]}"; do args+=(--made-by "$line"); done
python -m scripts.study report results --output docs/results.md --plots-dir docs "${args[@]}"
