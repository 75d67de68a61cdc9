"""Multi-round self-distillation: each round's student annotates for the next round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spacy_tskd.cli import app
from spacy_tskd.distill.rounds import load_rounds_recipe, run_rounds

CONFIGS = Path(__file__).parent.parent / "configs"


def _overrides(encoder_dir):
    return {
        "paths.encoder": str(encoder_dir),
        "components.tskd_ner.model.encoder.max_length": 64,
        "distillation.max_epochs": 1,
        "distillation.heldout": 1,
        "nlp.lang": "en",
    }


def test_rounds_chain_and_resume(teacher_dir, text_path, tiny_encoder_dir, tmp_path, capsys):
    kwargs = dict(
        teacher_path=teacher_dir,
        target_docs=text_path,
        out_dir=tmp_path / "rounds",
        student_config=CONFIGS / "student.cfg",
        rounds=2,
        denoise=True,
        start="previous",
        denoise_recipe={"k": 3, "sharpness": 6.0, "mu": 1.0, "smooth": 0.0},
        overrides=_overrides(tiny_encoder_dir),
    )
    students = run_rounds(**kwargs)
    out = tmp_path / "rounds"
    assert students == [out / f"round-{r}" / "student" / "model-last" for r in (0, 1)]
    assert all(p.is_dir() for p in students)
    # round 1's teacher is round 0's student, and its tokens are weighted
    meta = json.loads((out / "round-1" / "denoised" / "index.json").read_text())
    assert meta["teacher"]["path"] == str(students[0].resolve())
    assert meta["denoise"]["k"] == 3
    student_1 = json.loads((students[1] / "meta.json").read_text())["tskd"]
    assert student_1["distillation"]["init_from"] == str(students[0])  # start = previous
    assert student_1["teacher_probs"] == [str(out / "round-1" / "denoised")]
    capsys.readouterr()
    run_rounds(**kwargs)  # finished: every step is skipped
    assert "[run]" not in capsys.readouterr().out
    # other text under the same path: the rounds start over, and only then
    text_path.write_text(text_path.read_text() + "Anna met Boris again .\n")
    run_rounds(**{**kwargs, "rounds": 1})
    log = capsys.readouterr().out
    assert "changed since its last run; starting over" in log and "inputs_sha256" in log
    assert "[run] round 0: annotate" in log and not (out / "round-1").exists()
    with pytest.raises(ValueError, match="start must be one of plain, previous"):
        run_rounds(**{**kwargs, "start": "teacher"})


def test_round_zero_mixes_several_teachers(
    teacher_dir, other_teacher_dir, text_path, tiny_encoder_dir, tmp_path
):
    out = tmp_path / "mixed"
    (student,) = run_rounds(
        teacher_path=[teacher_dir, other_teacher_dir],
        alpha=[0.25, 0.75],
        target_docs=text_path,
        out_dir=out,
        student_config=CONFIGS / "student.cfg",
        rounds=1,
        denoise=True,
        start="plain",
        denoise_recipe={"k": 3, "sharpness": 6.0, "mu": 1.0, "smooth": 0.0},
        overrides=_overrides(tiny_encoder_dir),
    )
    here = out / "round-0"
    tskd = json.loads((student / "meta.json").read_text())["tskd"]
    # the weights travel with the first directory's copy; α mixes the two teachers
    assert tskd["teacher_probs"] == [str(here / "denoised"), str(here / "probs-1")]
    assert tskd["weights"] == [0.25, 0.75]
    denoised = json.loads((here / "denoised" / "index.json").read_text())["denoise"]
    assert denoised["from"] == [str((here / f"probs-{k}").resolve()) for k in (0, 1)]
    assert denoised["alpha"] == [0.25, 0.75]


def _gold(tmp_path):
    import spacy
    from spacy.tokens import Doc, DocBin

    from conftest import TRAIN_SENTS

    vocab = spacy.blank("xx").vocab
    docs = [Doc(vocab, words=[w for w, _ in s], ents=[t for _, t in s]) for s in TRAIN_SENTS]
    path = tmp_path / "gold.spacy"
    DocBin(docs=docs).to_disk(path)
    return path


def test_recipe_and_cli(teacher_dir, text_path, tiny_encoder_dir, tmp_path):
    assert load_rounds_recipe(CONFIGS / "rounds.cfg", rounds=3) == {
        "rounds": 3,
        "denoise": False,
        "start": "previous",
    }
    args = ["rounds", str(teacher_dir), str(text_path), str(tmp_path / "r"), "--rounds", "1"]
    args += ["--no-denoise", "--test", str(_gold(tmp_path))]
    for key, value in _overrides(tiny_encoder_dir).items():
        args += [f"--{key}", str(value)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "round 0:" in result.output and not (tmp_path / "r" / "round-0" / "denoised").exists()
    scores = json.loads((tmp_path / "r" / "round-0" / "scores.json").read_text())
    assert 0.0 <= scores["ents_f"] <= 1.0 and scores["system"] == "round 0"
