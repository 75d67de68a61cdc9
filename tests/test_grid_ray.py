"""The study's cells as Ray tasks on a local 2-CPU cluster that the test starts and
stops (skipped without the ``ray`` extra): dependencies respected, results written
atomically and skipped on a rerun, a failed cell reported while the others finish."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ray")

from typer.testing import CliRunner  # noqa: E402

from scripts.study.__main__ import app  # noqa: E402

from conftest import TRAIN_SENTS, write_conll  # noqa: E402


def test_study_on_ray(tiny_encoder_dir, tmp_path):
    import ray

    for lang in ("en", "es", "nl"):
        (tmp_path / "data" / "conll" / lang).mkdir(parents=True)
        for split in ("train", "dev", "test"):
            write_conll(tmp_path / "data" / "conll" / lang / f"{split}.txt", TRAIN_SENTS * 2)
    # nl's test set is broken: its cells fail, es's finish
    (tmp_path / "data" / "conll" / "nl" / "test.txt").write_text("Anna\nB-PER\n", encoding="utf8")
    args = ["reproduce", str(tmp_path / "out"), "--results", str(tmp_path / "r")]
    args += ["--data-dir", str(tmp_path / "data"), "--encoder", str(tiny_encoder_dir)]
    args += ["--languages", "en,es,nl", "--targets", "es,nl", "--seeds", "0", "--only"]
    args += ["single", "--systems", "MT,HL", "--teacher-epochs", "1", "--student-epochs", "1"]
    args += ["--ray", "auto"]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        first = CliRunner().invoke(app, args)
        again = CliRunner().invoke(app, args)
    finally:
        ray.shutdown()
    assert first.exit_code == 1, first.output
    assert "2 results computed, 0 kept, 2 failed" in first.output
    assert "failed: single-MT-en-nl-seed0:" in first.output and "test.txt" in first.output
    for system in ("MT", "HL"):
        result = json.loads((tmp_path / "r" / f"single-{system}-en-es-seed0.json").read_text())
        assert result["system"] == system and 0.0 <= result["scores"]["ents_f"] <= 1.0
    assert not (tmp_path / "r" / "single-MT-en-nl-seed0.json").exists()
    # the teacher ran once for both cells and both targets: one line in the step log
    log = (tmp_path / "out" / "steps.jsonl").read_text().splitlines()
    assert sum(json.loads(line)["step"].startswith("teacher en") for line in log) == 1
    assert "0 results computed, 2 kept, 2 failed" in again.output


def test_steps_wait_only_for_the_steps_whose_outputs_they_read(tmp_path):
    from scripts.study.grid_ray import depends_on
    from scripts.study.steps import annotate_step, convert_steps, student_step, teacher_step

    corpus = tmp_path / "corpus"

    def convert(lang, target=False):
        extra = {"target_sents": 0, "test_sents": 0} if target else {}
        steps = convert_steps(
            corpus=corpus, data_dir="d", conll="c", lang=lang, teacher_sents=0, dev_sents=0, **extra
        )
        return {step.path.stem: step for step in steps}

    def teacher(lang):
        return teacher_step(
            lang_dir=tmp_path / "teachers" / lang, corpus=corpus, lang=lang, encoder="enc",
            epochs=1, lr=1e-4, seed=0, config="t.cfg", gpu_id=-1, what=f"teacher {lang}",
        )  # fmt: skip

    def annotate(lang):
        return annotate_step(
            teacher=tmp_path / "teachers" / lang / "model-last",
            docs=corpus / "es" / "unlabeled.spacy",
            output=tmp_path / "probs" / f"{lang}-es",
            gpu_id=-1,
            what=f"annotate {lang}",
        )

    en, de, es = convert("en"), convert("de"), convert("es", target=True)
    student = student_step(
        student_dir=tmp_path / "student", target="es", probs=[tmp_path / "probs" / "en-es",
        tmp_path / "probs" / "de-es"], sources=["de", "en"], weights=None, encoder="enc",
        epochs=1, batch_size=8, lr=1e-4, seed=0, config="s.cfg", gpu_id=-1, what="student",
    )  # fmt: skip
    assert depends_on(teacher("en"), en["train"]) and depends_on(teacher("en"), en["dev"])
    assert not depends_on(teacher("en"), de["train"])  # teachers train side by side
    assert not depends_on(teacher("en"), teacher("de"))
    assert depends_on(annotate("en"), teacher("en")) and depends_on(annotate("en"), es["unlabeled"])
    assert not depends_on(annotate("en"), teacher("de")) and not depends_on(
        annotate("en"), es["test"]
    )
    assert depends_on(student, annotate("en")) and depends_on(student, annotate("de"))
    assert not depends_on(student, teacher("en"))
    # weights fits that share an embedding cache run one after another
    from spacy_tskd.resumable import Step

    def fit(method, cache):
        kwargs = {"target_docs": es["unlabeled"].path, "embedding_cache": tmp_path / cache}
        return Step(tmp_path / "weights" / f"{method}.json", method, print, kwargs)

    assert depends_on(fit("cosine", "emb"), fit("sim", "emb"))
    assert not depends_on(fit("cosine", "emb"), fit("sim", "other"))
    assert not depends_on(student, fit("sim", "emb"))  # the student reads its own weights only
