"""Neighbour-based denoising: a pseudo label its neighbours disagree with weighs less."""

from __future__ import annotations

import numpy as np
import pytest

from spacy_tskd.distill.neighbours import nearest_neighbours, neighbour_weights

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def _clusters(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(40, 16)) * 0.05 + np.eye(16)[0]  # a region of person names
    b = rng.normal(size=(40, 16)) * 0.05 + np.eye(16)[1]  # a region of common words
    labels = np.array([3] * 20 + [4] * 20 + [0] * 40)  # B-PER/I-PER in a, O in b
    return np.concatenate([a, b]), labels


def test_a_label_its_neighbours_disagree_with_weighs_less():
    vectors, labels = _clusters()
    labels[5] = 0  # an O among person names: its neighbours all carry PER
    w = neighbour_weights(vectors, labels, LABELS, k=10, sharpness=6.0, mu=1.0)
    assert w.shape == (80,) and (w > 0).all() and (w <= 1.0 + 1e-6).all()
    o_in_b = w[40:]
    assert w[5] < o_in_b.min()  # the doubtful O weighs less than every agreed-on O
    # B-PER and I-PER agree at the type level: the person tokens keep high weights
    assert w[:40][np.arange(40) != 5].min() > 0.5
    # every label's best-supported token has weight 1
    for y in (0, 3, 4):
        assert w[labels == y].max() == pytest.approx(1.0)


def test_neighbours_skip_the_token_itself_and_exact_duplicates():
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    sims, ids = nearest_neighbours(vectors, 2)
    assert ids[0].tolist() == [2, 3]  # row 1 is an exact duplicate of row 0: skipped
    assert sims[0, 0] > sims[0, 1]
    assert ids[3, 0] == 2


def test_bad_input():
    with pytest.raises(ValueError, match="3 vectors for 2 labels"):
        neighbour_weights(np.zeros((3, 2)), [0, 1], LABELS, k=1, sharpness=6, mu=1)
    with pytest.raises(ValueError, match="k must be at least 1"):
        neighbour_weights(np.zeros((3, 2)), [0, 1, 0], LABELS, k=0, sharpness=6, mu=1)


def test_weighted_losses():
    from spacy_tskd.pipeline.losses import DISTILL_LOSSES

    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 3))
    q = rng.dirichlet(np.ones(3), size=4)
    for name, fn in DISTILL_LOSSES.items():
        plain, d_plain = fn(z, q)
        ones, d_ones = fn(z, q, np.ones(4))
        assert ones == pytest.approx(plain) and np.allclose(d_ones, d_plain), name
        w = np.array([1.0, 0.0, 0.5, 1.0])
        loss, d = fn(z, q, w)
        assert np.allclose(d[1], 0.0), name  # a token of weight 0 teaches nothing
        assert np.allclose(d[2], 0.5 * d_plain[2], atol=1e-6), name
        eps = 1e-6  # the gradient is the weighted loss's
        zp = z.copy()
        zp[2, 1] += eps
        assert d[2, 1] == pytest.approx((fn(zp, q, w)[0] - loss) / eps, abs=1e-5), name
    with pytest.raises(ValueError, match="3 token weights for 4 tokens"):
        DISTILL_LOSSES["mse"](z, q, np.ones(3))


def test_denoise_end_to_end(teacher_dir, text_path, tiny_encoder_dir, tmp_path, monkeypatch):
    from pathlib import Path

    import spacy

    from spacy_tskd.distill.annotate import annotate
    from spacy_tskd.distill.corpus import TeacherCorpus
    from spacy_tskd.distill.denoise import denoise, load_denoise_recipe
    from spacy_tskd.distill.loop import distill
    from spacy_tskd.pipeline.ner import TokenSoftmaxNER

    config = Path(__file__).parent.parent / "configs" / "denoise.cfg"
    recipe = load_denoise_recipe(config, k=3)
    assert recipe == {"k": 3, "sharpness": 6.0, "mu": 1.0, "smooth": 0.0}
    annotate(teacher_path=teacher_dir, input_path=text_path, lang="en", output_dir=tmp_path / "a",
             shard_size=4, progress=False)  # fmt: skip
    info = denoise(model_path=teacher_dir, annotations=tmp_path / "a",
                   output_dir=tmp_path / "d", progress=False, **recipe)  # fmt: skip
    vocab = spacy.blank("xx").vocab
    plain, weighted = TeacherCorpus([tmp_path / "a"]), TeacherCorpus([tmp_path / "d"])
    assert plain.load_weighted(0, vocab)[2] is None
    docs, probs, weights = weighted.load_weighted(1, vocab)
    same_docs, same_probs = plain.load(1, vocab)
    assert [d.text for d in docs] == [d.text for d in same_docs]
    assert all(np.allclose(a, b, atol=2e-3) for a, b in zip(probs, same_probs))
    from spacy.tokens import DocBin

    from spacy_tskd.distill.annotations import USER_DATA_KEY

    raw = [
        DocBin().from_disk(d / "shard-00001.spacy").get_docs(vocab)
        for d in (tmp_path / "a", tmp_path / "d")
    ]
    for before, after in zip(*raw):  # the stored float16 rows and teacher are kept as they were
        a, b = before.user_data[USER_DATA_KEY], after.user_data[USER_DATA_KEY]
        assert np.array_equal(a["probs"], b["probs"]) and a["teacher"] == b["teacher"]
    assert [len(w) for w in weights] == [len(d) for d in docs]
    assert all(((w > 0) & (w <= 1.0 + 1e-3)).all() for w in weights)
    assert info["n_tokens"] == plain.n_tokens
    assert weighted.metas[0]["denoise"]["k"] == 3
    # distill weighs its loss with them
    seen = []
    original = TokenSoftmaxNER.get_teacher_student_loss

    def recording(self, teacher_scores, student_scores, *, token_weights=None):
        seen.append(token_weights is not None)
        return original(self, teacher_scores, student_scores, token_weights=token_weights)

    monkeypatch.setattr(TokenSoftmaxNER, "get_teacher_student_loss", recording)
    distill(
        config_path=Path(__file__).parent.parent / "configs" / "student.cfg",
        output_path=tmp_path / "student",
        overrides={"paths.teacher_probs": str(tmp_path / "d"),
                   "paths.encoder": str(tiny_encoder_dir),
                   "components.tskd_ner.model.encoder.max_length": 64,
                   "distillation.max_epochs": 1, "distillation.heldout": 1},
    )  # fmt: skip
    assert seen and all(seen)
    with pytest.raises(ValueError, match="is not empty"):
        denoise(model_path=teacher_dir, annotations=tmp_path / "a", output_dir=tmp_path / "d",
                progress=False, **recipe)  # fmt: skip
