"""`spacy project run all` on a user's own files, by variables only: labelled English as
JSONL spans with OntoNotes-style labels, unlabeled Portuguese as JSONL, a tiny encoder;
then the package and an immediate re-run that runs no step (no test set: test_report)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NAMES = {"PERSON": ["Anna", "Boris", "Carla"], "GPE": ["Paris", "Lima", "Oslo"],
         "ORG": ["Acme", "Globex"]}  # fmt: skip
EN = ["{PERSON} visited {GPE} today .", "{PERSON} works for {ORG} .", "{ORG} is in {GPE} ."]
PT = ["{PERSON} visitou {GPE} hoje .", "{PERSON} trabalha na {ORG} .", "A {ORG} fica em {GPE} ."]


def _record(template: str, rng: random.Random) -> dict:
    text, spans = "", []
    for part in template.split(" "):
        label = part[1:-1] if part.startswith("{") else None
        word = rng.choice(NAMES[label]) if label else part
        start = len(text) + (1 if text else 0)
        text = f"{text} {word}" if text else word
        if label:
            spans.append({"start": start, "end": start + len(word), "label": label})
    return {"text": text, "spans": spans}


def _write(path: Path, templates, n: int, seed: int, field: str = "text") -> Path:
    rng = random.Random(seed)
    rows = [_record(templates[i % len(templates)], rng) for i in range(n)]
    if field != "text":
        rows = [{field: r["text"]} for r in rows]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf8")
    return path


def _encoder(path: Path) -> Path:
    """A tiny random BERT whose positions cover the recipe's 128 pieces."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted({w.lower() for names in NAMES.values() for w in names} | set("visited works "
                   "for is in today visitou hoje trabalha na fica em a .".split()))  # fmt: skip
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz", *words]
    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf8")
    BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True).save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(set(vocab)), hidden_size=32, num_hidden_layers=4,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=132)  # fmt: skip
    BertModel(config, add_pooling_layer=False).save_pretrained(path)
    return path


def _run(project: Path, *args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    out = subprocess.run([sys.executable, "-m", "spacy", "project", "run", *args], cwd=project, env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return out.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("user_project")
    project = tmp / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project)
    for folder in ("configs", "scripts"):
        shutil.copytree(
            ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    data = tmp / "data"
    data.mkdir()
    files = {
        "source_train": _write(data / "train.jsonl", EN, 24, seed=0),
        "source_dev": _write(data / "dev.jsonl", EN, 12, seed=1),
        "target_text": _write(data / "pt.jsonl", PT, 40, seed=2, field="body"),
        "target_test": _write(data / "pt-test.jsonl", PT, 12, seed=3),
        "encoder": _encoder(tmp / "encoder"),
    }
    vars_ = {**{k: str(v) for k, v in files.items()}, "source_lang": "en", "target_lang": "pt",
             "text_field": "body", "source_sents": 0, "dev_sents": 0, "target_sents": 30,
             "heldout_sents": 10, "test_sents": 0, "teacher_epochs": 1}  # fmt: skip
    args = [f"--vars.{k}={v}" for k, v in vars_.items()]
    return project, args


@pytest.mark.slow  # about 2 minutes: ten processes and a wheel build
def test_all_on_your_own_files(project):
    project, args = project
    first = _run(project, "all", ".", *args)
    assert "Running command" in first
    student = project / "training" / "student-en-pt" / "model-last"
    import spacy

    nlp = spacy.load(student)
    assert nlp.lang == "pt"
    types = {lab.split("-", 1)[-1] for lab in nlp.get_pipe("tskd_ner").labels if lab != "O"}
    assert types == {"PERSON", "GPE", "ORG"}
    metrics = project / "metrics" / "en-pt"
    report = json.loads((metrics / "nogold.json").read_text())
    assert report["n_docs"] == 10 and set(report["teacher"]["entities"]) <= types
    assert report["test"]["data"].endswith("test.spacy") and 0 <= report["test"]["TS_f"] <= 1
    assert (metrics / "confidence.png").read_bytes()[:4] == b"\x89PNG"
    assert (metrics / "examples.html").read_text().count("<tr>") == 11  # header + 10 docs
    assert "| TS |" in (metrics / "table.md").read_text()

    again = _run(project, "all", ".", *args)
    assert "Running command" not in again, again  # an immediate re-run runs no step

    _run(project, "package", ".", *args)
    (wheel,) = (project / "packages" / "pt_tskd_en_pt-0.1.0" / "dist").glob("*.whl")
    meta = json.loads((project / "packages" / "pt_tskd_en_pt-0.1.0" / "meta.json").read_text())
    assert meta["lang"] == "pt" and meta["tskd"]["decoder"] == ["viterbi"]
    assert meta["performance"]["ents_f"] == pytest.approx(report["test"]["TS_f"], abs=1e-6)
    assert "teachers of en" in meta["description"] and "GPE" in meta["description"]
    assert any(r.startswith("spacy-tskd") for r in meta["requirements"])
