"""The resumable multi-source runner on tiny synthetic languages and a tiny encoder."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from spacy_tskd.cli import app

from conftest import TRAIN_SENTS, write_conll

LANGS = ("en", "de", "es")


def _data(tmp_path):
    root = tmp_path / "data"
    for lang in LANGS:
        for split in ("train", "dev", "test"):
            (root / "conll" / lang).mkdir(parents=True, exist_ok=True)
            write_conll(root / "conll" / lang / f"{split}.txt", TRAIN_SENTS * 2)
    return root


def test_multi_runs_and_resumes(tiny_encoder_dir, tmp_path):
    data = _data(tmp_path)
    args = [
        "experiment",
        "multi",
        str(tmp_path / "out"),
        "--data-dir",
        str(data),
        "--encoder",
        str(tiny_encoder_dir),
        "--languages",
        ",".join(LANGS),
        "--targets",
        "es",
        "--teacher-epochs",
        "1",
        "--teacher-sents",
        "0",
        "--target-sents",
        "0",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for system in ("MT-avg", "MT-sim", "TS-avg", "TS-sim", "TS-cosine", "TS-l2"):
        assert system in result.output
        scores = json.loads((tmp_path / "out/metrics" / f"es-{system}-seed0.json").read_text())
        assert 0.0 <= scores["ents_f"] <= 1.0
    # a second run skips everything; a removed result is recomputed
    (tmp_path / "out/metrics/es-TS-l2-seed0.json").unlink()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "[run] TS-l2 on es" in result.output
    assert "[run] teacher" not in result.output and "[run] student" not in result.output
