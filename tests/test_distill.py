"""Distillation: losses by hand, the loop, the student pipeline end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc, DocBin
from typer.testing import CliRunner

from spacy_tskd.cli import app
from spacy_tskd.distill.annotate import annotate
from spacy_tskd.distill.corpus import TeacherCorpus
from spacy_tskd.pipeline.losses import hard_label_loss, mse_loss, softmax

STUDENT_CFG = Path(__file__).parent.parent / "configs" / "student.cfg"


def test_mse_loss_by_hand():
    # 2 tokens, 2 labels. z = [[0, 0], [ln 3, 0]] -> p = [[.5, .5], [.75, .25]]
    z = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])
    q = np.array([[1.0, 0.0], [0.5, 0.5]])
    loss, d = mse_loss(z, q)
    # (p - q) = [[-.5, .5], [.25, -.25]] -> mean of squares = (.25+.25+.0625+.0625)/4
    assert loss == pytest.approx(0.15625)
    # dL/dp = 2 (p - q) / 4 ; dL/dz_j = p_j (g_j - sum_c g_c p_c)
    g = 2 * np.array([[-0.5, 0.5], [0.25, -0.25]]) / 4
    p = np.array([[0.5, 0.5], [0.75, 0.25]])
    expected = p * (g - (g * p).sum(axis=1, keepdims=True))
    assert np.allclose(d, expected, atol=1e-6)
    # and against finite differences
    eps = 1e-6
    for t in range(2):
        for c in range(2):
            zp = z.copy()
            zp[t, c] += eps
            num = (mse_loss(zp, q)[0] - loss) / eps
            assert d[t, c] == pytest.approx(num, abs=1e-5)


def test_hard_label_loss_is_cross_entropy_on_argmax():
    z = np.array([[2.0, 0.0, 0.0]])
    q = np.array([[0.2, 0.7, 0.1]])
    loss, d = hard_label_loss(z, q)
    p = softmax(z)[0]
    assert loss == pytest.approx(-np.log(p[1]), rel=1e-5)
    assert np.allclose(d[0], p - np.array([0, 1, 0]), atol=1e-6)


@pytest.fixture
def teacher_and_target(overfit_teacher_dir, train_docs, tmp_path):
    """A teacher overfit on the 3 synthetic sentences, and those sentences as target docs."""
    nlp = spacy.load(overfit_teacher_dir)
    nlp.to_disk(tmp_path / "teacher")
    target = DocBin(store_user_data=False)
    for d in train_docs:
        target.add(d)
    target.to_disk(tmp_path / "target.spacy")
    annotate(
        teacher_path=tmp_path / "teacher",
        input_path=tmp_path / "target.spacy",
        output_dir=tmp_path / "probs",
        progress=False,
    )
    return nlp, tmp_path


def _distill(tmp_path, encoder_dir, *extra):
    return CliRunner().invoke(app, _distill_args(tmp_path, encoder_dir, *extra))


def _distill_args(tmp_path, encoder_dir, *extra):
    return [
        "distill",
        str(STUDENT_CFG),
        "--output",
        str(tmp_path / "student"),
        "--paths.teacher_probs",
        str(tmp_path / "probs"),
        "--paths.encoder",
        str(encoder_dir),
        "--components.tskd_ner.model.encoder.max_length",
        "64",
        "--components.tskd_ner.model.encoder.frozen_layers",
        "0",
        "--components.tskd_ner.model.encoder.freeze_embeddings",
        "false",
        "--distillation.batch_size",
        "3",
        "--distillation.heldout",
        "0",
        "--distillation.warmup_frac",
        "0",
        *extra,
    ]


@pytest.mark.parametrize("loss,lr,epochs", [("mse", "3e-3", "150"), ("hard", "3e-3", "60")])
def test_student_reproduces_teacher(
    teacher_and_target, tiny_encoder_dir, train_docs, loss, lr, epochs
):
    teacher, tmp_path = teacher_and_target
    result = _distill(
        tmp_path,
        tiny_encoder_dir,
        "--components.tskd_ner.distill_loss",
        loss,
        "--distillation.max_epochs",
        epochs,
        "--distillation.optimizer.learn_rate.initial_rate",
        lr,
    )
    assert result.exit_code == 0, result.output
    student = spacy.load(tmp_path / "student" / "model-last")
    for gold in train_docs:
        words = [t.text for t in gold]
        t_ents = [(e.start, e.end, e.label_) for e in teacher(Doc(teacher.vocab, words=words)).ents]
        s_ents = [(e.start, e.end, e.label_) for e in student(Doc(student.vocab, words=words)).ents]
        assert t_ents and s_ents == t_ents
    meta = student.meta["tskd"]
    assert meta["role"] == "student" and meta["distillation"]["max_epochs"] == int(epochs)
    assert meta["device"] == "cpu"  # scripts/gpu_check.sh asserts "gpu:N" on a GPU


def test_distillation_reduces_mse(teacher_and_target, tiny_encoder_dir, train_docs):
    _, tmp_path = teacher_and_target
    _, probs = TeacherCorpus([tmp_path / "probs"]).read_all(spacy.blank("xx").vocab)

    def student_mse(nlp):
        docs = [Doc(nlp.vocab, words=[t.text for t in d]) for d in train_docs]
        pred = nlp.get_pipe("tskd_ner").predict(docs)
        return np.mean([((p - probs[i]) ** 2).mean() for i, p in enumerate(pred)])

    result = _distill(tmp_path, tiny_encoder_dir, "--distillation.max_epochs", "0")
    assert result.exit_code == 0, result.output
    before = student_mse(spacy.load(tmp_path / "student" / "model-last"))
    result = _distill(
        tmp_path,
        tiny_encoder_dir,
        "--distillation.max_epochs",
        "30",
        "--distillation.optimizer.learn_rate.initial_rate",
        "3e-3",
    )
    assert result.exit_code == 0, result.output
    after = student_mse(spacy.load(tmp_path / "student" / "model-last"))
    assert after < 0.5 * before


def test_label_order_mismatch(teacher_and_target, tiny_encoder_dir):
    _, tmp_path = teacher_and_target
    result = _distill(
        tmp_path,
        tiny_encoder_dir,
        "--distillation.labels",
        '["O","B-PER","I-PER","B-LOC","I-LOC","B-ORG","I-ORG"]',
    )
    assert result.exit_code == 1
    assert str(tmp_path / "probs") in " ".join(result.output.split())
    assert "label" in result.output.lower()


def test_same_seed_gives_the_same_student(teacher_and_target, tiny_encoder_dir, train_docs):
    """The seed fixes the output layer's initialisation, dropout and batch order."""
    _, tmp_path = teacher_and_target
    words = [[t.text for t in d] for d in train_docs]

    def student_probs(seed: str):
        result = _distill(
            tmp_path,
            tiny_encoder_dir,
            "--distillation.max_epochs",
            "2",
            "--distillation.seed",
            seed,
        )
        assert result.exit_code == 0, result.output
        nlp = spacy.load(tmp_path / "student" / "model-last")
        return nlp.get_pipe("tskd_ner").predict([Doc(nlp.vocab, words=w) for w in words])

    first, again, other = student_probs("0"), student_probs("0"), student_probs("1")
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_init_from_teacher_starts_at_the_teacher(teacher_and_target, tiny_encoder_dir, train_docs):
    """distillation.init_from (a deviation): with no step taken, the student is the teacher."""
    teacher, tmp_path = teacher_and_target
    docs = [Doc(teacher.vocab, words=[t.text for t in d]) for d in train_docs]
    expected = teacher.get_pipe("tskd_ner").predict(docs)
    result = _distill(
        tmp_path,
        tiny_encoder_dir,
        "--distillation.max_epochs",
        "0",
        "--distillation.init_from",
        str(tmp_path / "teacher"),
        "--components.tskd_ner.distill_loss",
        "hard",
    )
    assert result.exit_code == 0, result.output
    student = spacy.load(tmp_path / "student" / "model-last")
    ner = student.get_pipe("tskd_ner")
    got = ner.predict([Doc(student.vocab, words=[t.text for t in d]) for d in train_docs])
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(expected, got))
    assert ner.cfg["distill_loss"] == "hard"  # the student's loss, not the teacher's
    # without init_from the untrained student is not the teacher
    result = _distill(tmp_path, tiny_encoder_dir, "--distillation.max_epochs", "0")
    plain = spacy.load(tmp_path / "student" / "model-last").get_pipe("tskd_ner")
    other = plain.predict([Doc(plain.vocab, words=[t.text for t in d]) for d in train_docs])
    assert not all(np.allclose(a, b, atol=1e-3) for a, b in zip(expected, other))
    result = _distill(
        tmp_path, tiny_encoder_dir, "--distillation.init_from", str(tmp_path / "missing")
    )
    assert result.exit_code == 1
    assert "distillation.init_from" in result.output and "missing/tskd_ner/model not found" in (
        " ".join(result.output.split())
    )


def test_student_speaks_the_target_language(teacher_and_target, tiny_encoder_dir):
    """`--nlp.lang es` gives a Spanish pipeline: raw text gets spaCy's Spanish tokenizer."""
    _, tmp_path = teacher_and_target
    result = _distill(
        tmp_path, tiny_encoder_dir, "--distillation.max_epochs", "0", "--nlp.lang", "es"
    )
    assert result.exit_code == 0, result.output
    student = spacy.load(tmp_path / "student" / "model-last")
    assert student.lang == "es"
    # "del" is one token for the multi-language tokenizer too; "Ud." is a Spanish exception
    assert [t.text for t in student.tokenizer("Ud. vive en Madrid.")][0] == "Ud."
    result = _distill(tmp_path, tiny_encoder_dir, "--distillation.max_epochs", "0")
    assert "lang" in result.output and "--nlp.lang" in result.output


def test_a_killed_run_resumes_to_the_same_student(teacher_and_target, tiny_encoder_dir, train_docs):
    """distill checkpoints every N steps; --resume after a SIGKILL ends where an
    uninterrupted run ends (same probabilities on the same docs). Every run is its own
    process, as a user's would be (the same torch threads for all three)."""
    import signal
    import subprocess
    import sys
    import time

    _, tmp_path = teacher_and_target
    words = [[t.text for t in d] for d in train_docs]
    extra = ["--distillation.max_epochs", "60", "--distillation.checkpoint_every", "3"]
    extra += ["--distillation.optimizer.learn_rate.initial_rate", "3e-3"]
    command = [
        sys.executable,
        "-m",
        "spacy_tskd",
        *_distill_args(tmp_path, tiny_encoder_dir, *extra),
    ]
    cwd = Path(__file__).parents[1]

    def run(*more):
        return subprocess.run([*command, *more], cwd=cwd, capture_output=True, text=True)

    def student_probs():
        nlp = spacy.load(tmp_path / "student" / "model-last")
        return nlp.get_pipe("tskd_ner").predict([Doc(nlp.vocab, words=w) for w in words])

    done = run()
    assert done.returncode == 0, done.stderr[-2000:]
    whole = student_probs()
    assert not (tmp_path / "student" / "checkpoint").exists()  # spent once model-last is saved
    (tmp_path / "student").rename(tmp_path / "uninterrupted")
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "student" / "checkpoint" / "state.json"
    deadline = time.time() + 120
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists() and not (tmp_path / "student" / "model-last").exists()
    step = json.loads(state.read_text())["step"]
    assert 0 < step < 60 and step % 3 == 0
    resumed = run("--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"at step {step} of 60" in resumed.stdout
    assert all(np.array_equal(a, b) for a, b in zip(student_probs(), whole))
    # no checkpoint to resume from: the error says what to do
    result = _distill(tmp_path, tiny_encoder_dir, *extra, "--resume")
    assert result.exit_code == 1 and "Run it again without --resume" in " ".join(
        result.output.split()
    )


def test_kl_loss_gradient_and_temperature():
    from spacy_tskd.pipeline.losses import get_distill_loss, kl_divergence, soft_cross_entropy

    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 4))
    q = rng.dirichlet(np.ones(4), size=3)
    q[0, 2] = 0.0  # float16 probabilities can be 0
    q[0] /= q[0].sum()
    for t in (1.0, 2.0, 4.0):
        loss, d = get_distill_loss("kl", t)(z, q)
        assert loss >= 0
        eps = 1e-6
        for i, j in ((0, 1), (2, 3)):
            zp = z.copy()
            zp[i, j] += eps
            num = (kl_divergence(zp, q, temperature=t)[0] - loss) / eps
            assert d[i, j] == pytest.approx(num, abs=1e-5)
    # at T = 1, KL and soft cross-entropy differ by the teacher's entropy: one gradient
    np.testing.assert_allclose(kl_divergence(z, q)[1], soft_cross_entropy(z, q)[1], atol=1e-6)
    # the student that matches the teacher has loss 0 at any temperature
    assert kl_divergence(np.log(q[1:] + 0.0), q[1:], temperature=3.0)[0] == pytest.approx(
        0, abs=1e-9
    )
    with pytest.raises(ValueError, match="distill_temperature = 0: it must be above 0"):
        kl_divergence(z, q, temperature=0)
    with pytest.raises(ValueError, match=r"Unknown distill_loss 'kld': choose one of .*'kl'"):
        get_distill_loss("kld")
