"""Teacher training through the spaCy trainer wrapper, and length-bucketed batching."""

from __future__ import annotations

import random
from pathlib import Path

import spacy
from typer.testing import CliRunner

from spacy_tskd.cli import app
from spacy_tskd.training.batching import bucket_batches

from conftest import TRAIN_SENTS, write_conll

CONFIG = Path(__file__).parent.parent / "configs" / "teacher.cfg"


def test_bucketing_yields_every_item_once():
    items = [list(range(random.Random(i).randint(1, 40))) for i in range(1000)]
    batches = list(bucket_batches(items, size=32, buffer_batches=5, get_length=len))
    seen = [id(x) for b in batches for x in b]
    assert sorted(seen) == sorted(id(x) for x in items)
    assert all(len(b) <= 32 for b in batches)
    spread = [max(map(len, b)) - min(map(len, b)) for b in batches]
    assert sum(spread) / len(spread) < 10  # similar lengths inside a batch


def test_train_teacher_cli(tiny_encoder_dir, tmp_path):
    from spacy_tskd.data.convert import convert

    conll = write_conll(tmp_path / "train.txt", TRAIN_SENTS * 4)
    convert(input_path=conll, output_path=tmp_path / "train.spacy", lang="xx")
    result = CliRunner().invoke(
        app,
        [
            "train-teacher",
            str(CONFIG),
            "--output",
            str(tmp_path / "teacher"),
            "--paths.train",
            str(tmp_path / "train.spacy"),
            "--paths.dev",
            str(tmp_path / "train.spacy"),
            "--paths.encoder",
            str(tiny_encoder_dir),
            "--training.max_epochs",
            "2",
            "--training.batcher.size",
            "4",
            "--components.tskd_ner.model.encoder.max_length",
            "64",
        ],
    )
    assert result.exit_code == 0, result.output
    nlp = spacy.load(tmp_path / "teacher" / "model-last")
    assert nlp.get_pipe("tskd_ner").labels[0] == "O"
    cfg = nlp.config["training"]["optimizer"]["learn_rate"]
    assert cfg["total_steps"] == 6 and cfg["warmup_steps"] == 1  # 12 docs / 4 * 2 epochs
    # the source dev set is scored after the last update (0-based step 5 of 6)
    assert nlp.config["training"]["eval_frequency"] == 5
    assert "ents_f" in nlp.meta["performance"]
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:1].isdigit()]
    assert [row[1] for row in rows] == ["0", "5"], result.output


def test_train_teacher_missing_data(tmp_path):
    result = CliRunner().invoke(
        app, ["train-teacher", str(CONFIG), "--paths.train", str(tmp_path / "nope.spacy")]
    )
    assert result.exit_code == 1
    assert "nope.spacy" in result.output and "convert" in result.output


def test_train_teacher_needs_a_labelled_dev_set(tmp_path):
    from spacy.tokens import DocBin

    from spacy_tskd.data.convert import convert

    conll = write_conll(tmp_path / "train.txt", TRAIN_SENTS)
    convert(input_path=conll, output_path=tmp_path / "train.spacy", lang="xx")
    nlp = spacy.blank("xx")
    DocBin(docs=[nlp.make_doc("no entities here")]).to_disk(tmp_path / "dev.spacy")
    args = ["train-teacher", str(CONFIG), "--paths.train", str(tmp_path / "train.spacy")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "paths.dev is not set" in result.output
    result = CliRunner().invoke(app, [*args, "--paths.dev", str(tmp_path / "dev.spacy")])
    output = " ".join(result.output.split())
    assert result.exit_code == 1
    assert f"The source dev set {tmp_path / 'dev.spacy'} has no entities" in output


def test_teacher_trains_on_the_conll_tokens():
    """gold_preproc: spaCy's Corpus would otherwise re-tokenize each sentence with the
    pipeline's (language-specific) tokenizer, so the teacher would learn on other tokens
    than those it annotates and is scored on."""
    from spacy.util import load_config

    for name in ("teacher.cfg", "teacher_mbert.cfg"):
        config = load_config(Path(__file__).parent.parent / "configs" / name)
        assert config["corpora"]["train"]["gold_preproc"] is True, name
        assert config["corpora"]["dev"]["gold_preproc"] is True, name
