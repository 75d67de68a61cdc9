"""``python -m spacy_tskd report TEACHER STUDENT HELDOUT --output DIR``: the no-gold report."""

from pathlib import Path
from typing import Optional

import typer

from ._app import app, command


@command(app, "report")
def report_cli(
    teacher: Path = typer.Argument(..., help="Teacher pipeline (model-last)."),
    student: Path = typer.Argument(..., help="Student pipeline (model-last)."),
    heldout: Path = typer.Argument(
        ..., help="Held-out unlabeled target DocBin (convert --heldout)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Report folder (metrics/SRC-TGT)."),
    test: Optional[Path] = typer.Option(
        None, "--test", help="Gold target test DocBin: adds MT/TS F1 (an empty one: no F1)."
    ),
    n_examples: int = typer.Option(30, "--examples", help="Held-out docs shown in examples.html."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Teacher and student on held-out target text: entities per label, agreement,
    confidence plot, displaCy examples; and the F1 table when a test set is given."""
    from wasabi import msg

    from ..evaluation.report import write_report

    report = write_report(
        teacher_path=teacher, student_path=student, heldout_path=heldout, output_dir=output,
        test_path=test, n_examples=n_examples, gpu_id=gpu_id,
    )  # fmt: skip
    labels = sorted(set(report["teacher"]["entities"]) | set(report["student"]["entities"]))
    rows = [(lab, report["teacher"]["entities"].get(lab, 0), report["student"]["entities"].get(lab, 0)) for lab in labels]  # fmt: skip
    msg.table(rows, header=("entities", "teacher", "student"), aligns=("l", "r", "r"))
    agree = report["agreement"]
    msg.info(
        f"Held-out {report['n_docs']} docs: student-teacher entity F1 {agree['ents_f']:.3f}, "
        f"same tag on {agree['tokens']:.1%} of tokens; student confidence mean "
        f"{report['student']['confidence']['mean']:.3f}"
    )
    if report["test"]:
        msg.good(f"F1 on {report['test']['data']}: MT {report['test']['MT_f'] * 100:.2f}, "
                 f"TS {report['test']['TS_f'] * 100:.2f}")  # fmt: skip
    else:
        msg.info("No target test set: no F1 (the report above needs no labels).")
    msg.good(f"Wrote {output}/nogold.json, confidence.png, examples.html")
