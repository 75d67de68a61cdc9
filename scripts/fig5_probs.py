"""Fig. 5 for any teacher and students: which of the teacher's test mistakes do they fix?

The study computes Fig. 5 for its own single-source students; this script does the
same for students made elsewhere (e.g. a `rounds` run), from stored test probabilities:
the teacher's (`annotate TEACHER TEST.spacy DIR`) and each student's (same command with
the student). Several students (seeds) are summed, as the study sums seeds.

usage: python scripts/fig5_probs.py TEST.spacy TEACHER_PROBS[,MORE] STUDENT_PROBS... [--decode viterbi]
(several teacher directories, comma-separated: their uniform mixture, a teacher ensemble)
prints a Markdown table: confidence bin, teacher errors, corrected, share.
"""

from __future__ import annotations

import argparse

from scripts.study.analysis import correction_bins, merge_bins
from scripts.study.stored_probs import load_stored_probs, read_gold_bio
from spacy_tskd.data.decode import decode_bio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("test")
    parser.add_argument("teacher_probs", help="comma-separated: a uniform mixture")
    parser.add_argument("student_probs", nargs="+")
    parser.add_argument("--decode", default="viterbi", help="the students' decoder")
    args = parser.parse_args()
    gold = read_gold_bio(args.test)
    teacher, labels = load_stored_probs(args.teacher_probs.split(","), data_path=args.test)
    runs = []
    for path in args.student_probs:
        probs, student_labels = load_stored_probs([path], data_path=args.test)
        runs.append(
            correction_bins(
                gold=gold,
                teacher_probs=teacher,
                labels=labels,
                student=decode_bio(probs, student_labels, args.decode),
            )
        )
    bins = merge_bins(runs)
    print("| teacher confidence | teacher errors | corrected by the student | share |")
    print("|---|---|---|---|")
    for i, b in enumerate(bins):
        close = "]" if i == len(bins) - 1 else ")"
        n, fixed = b["teacher_errors"], b["corrected"]
        share = f"{100 * fixed / n:.1f} %" if n else "–"
        print(f"| [{b['lo']:.1f}, {b['hi']:.1f}{close} | {n} | {fixed} | {share} |")
    total, fixed = sum(b["teacher_errors"] for b in bins), sum(b["corrected"] for b in bins)
    print(f"| all | {total} | {fixed} | {100 * fixed / max(total, 1):.1f} % |")


if __name__ == "__main__":
    main()
