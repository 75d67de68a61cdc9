"""Language-similarity source weighting: α schemes, the low-rank model, weights files, CLI."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from conftest import FILLER, LOC, ORG, PER

# Two synthetic "languages" with disjoint vocabularies (all words in the tiny BERT vocab).
_WORDS = sorted({w.lower() for w in PER + LOC + ORG + FILLER} - {"."})
LANG_A = _WORDS[: len(_WORDS) // 2]
LANG_B = _WORDS[len(_WORDS) // 2 :]


def _sentences(vocab, n, seed):
    rng = random.Random(seed)
    return [[rng.choice(vocab) for _ in range(rng.randint(3, 7))] for _ in range(n)]


def _docbin(path, sents):
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

    vocab = Vocab()
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=[Doc(vocab, words=s) for s in sents]).to_disk(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models: one torch thread (OpenMP threads spin badly on a busy 2-core machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """corpus/a/train.spacy, corpus/b/train.spacy, and a target in language A's words."""
    root = tmp_path_factory.mktemp("weighting")
    return {
        "a": _docbin(root / "corpus" / "a" / "train.spacy", _sentences(LANG_A, 30, 1)),
        "b": _docbin(root / "corpus" / "b" / "train.spacy", _sentences(LANG_B, 30, 2)),
        "target": _docbin(root / "corpus" / "t" / "unlabeled.spacy", _sentences(LANG_A, 12, 3)),
        "root": root,
    }


@pytest.fixture(scope="module")
def embeddings(tiny_encoder_dir):
    from spacy_tskd.weighting.embeddings import sentence_embeddings

    def embed(sents):
        return sentence_embeddings(
            sents, encoder=str(tiny_encoder_dir), max_length=128, progress=False
        )

    return {
        "a": embed(_sentences(LANG_A, 30, 1)),
        "b": embed(_sentences(LANG_B, 30, 2)),
        "target": embed(_sentences(LANG_A, 12, 3)),
    }


FIT = {"rank": 8, "gamma": 0.01, "epochs": 30, "lr": 1e-2, "batch_size": 16, "seed": 0}


@pytest.fixture(scope="module")
def sim_model(embeddings):
    from spacy_tskd.weighting.similarity import fit_similarity_model

    return fit_similarity_model({"a": embeddings["a"], "b": embeddings["b"]}, **FIT)


def test_sentence_embeddings_mean_pooling(tiny_encoder_dir):
    """Batched, length-sorted, padded embedding == one sentence at a time, masked mean."""
    from spacy_tskd.encoders.pretrained import load_pretrained
    from spacy_tskd.weighting.embeddings import sentence_embeddings

    texts = ["anna visited paris", "boris works for acme today in lima and oslo", "the"]
    batched = sentence_embeddings(
        texts, encoder=str(tiny_encoder_dir), max_length=128, batch_size=2
    )
    transformer, tokenizer = load_pretrained(str(tiny_encoder_dir))
    transformer.eval()
    assert batched.shape == (3, transformer.config.hidden_size)
    for text, row in zip(texts, batched):
        enc = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            states = transformer(**enc).last_hidden_state[0]
        expected = states[1:-1].mean(dim=0).numpy()  # word pieces, without [CLS]/[SEP]
        np.testing.assert_allclose(row, expected, atol=1e-5)


@pytest.mark.parametrize("method", ["avg", "sim", "cosine", "l2"])
@pytest.mark.parametrize("sentence_level", [False, True])
def test_alpha_nonnegative_sums_to_one(method, sentence_level, embeddings, sim_model):
    from spacy_tskd.weighting.mixture import check_weights
    from spacy_tskd.weighting.similarity import compute_alpha

    mu = np.stack([embeddings["a"].mean(0), embeddings["b"].mean(0)])
    alpha, tau = compute_alpha(
        method, embeddings["target"], mu=mu, model=sim_model, sentence_level=sentence_level
    )
    n = len(embeddings["target"])
    assert alpha.shape == ((n, 2) if sentence_level else (2,))
    assert (alpha >= 0).all()
    np.testing.assert_allclose(alpha.sum(axis=-1), 1.0, atol=1e-9)
    check_weights(alpha, 2)
    if method == "avg":
        assert tau is None and np.allclose(alpha, 0.5)
    else:
        assert tau > 0


def test_softmax_alpha_formula_and_guard():
    from spacy_tskd.weighting.similarity import softmax_alpha

    s = np.array([[1.0, 3.0, 2.0], [0.0, 0.5, 4.0]])
    tau = s.var()  # population variance of all entries
    rows = np.exp(s / tau) / np.exp(s / tau).sum(axis=1, keepdims=True)
    alpha, t = softmax_alpha(s)
    assert t == pytest.approx(tau)
    np.testing.assert_allclose(alpha, rows.mean(axis=0))
    per_sent, _ = softmax_alpha(s, sentence_level=True)
    np.testing.assert_allclose(per_sent, rows)
    # all scores equal: τ = 0 is guarded (τ = 1) and α is uniform
    alpha, t = softmax_alpha(np.full((4, 3), 7.0))
    assert t == 1.0 and np.allclose(alpha, 1 / 3)


def test_similarity_model_separates_languages(embeddings, sim_model):
    from spacy_tskd.weighting.similarity import compute_alpha

    assert sim_model.train_stats["accuracy"] == pytest.approx(1.0)
    scores = sim_model.score_embeddings(np.concatenate([embeddings["a"], embeddings["b"]]))
    labels = np.array([0] * len(embeddings["a"]) + [1] * len(embeddings["b"]))
    assert (scores.argmax(axis=1) == labels).mean() == 1.0
    # target shares its vocabulary with language a
    alpha, _ = compute_alpha("sim", embeddings["target"], model=sim_model)
    assert alpha[0] > alpha[1]
    per_sent, _ = compute_alpha("sim", embeddings["target"], model=sim_model, sentence_level=True)
    assert (per_sent[:, 0] > per_sent[:, 1]).all()
    for method in ("cosine", "l2"):
        mu = np.stack([embeddings["a"].mean(0), embeddings["b"].mean(0)])
        alpha, _ = compute_alpha(method, embeddings["target"], mu=mu)
        assert alpha[0] > alpha[1], method


def test_fit_is_deterministic(embeddings, sim_model):
    from spacy_tskd.weighting.similarity import fit_similarity_model

    again = fit_similarity_model({"a": embeddings["a"], "b": embeddings["b"]}, **FIT)
    for (name, p1), (_, p2) in zip(sim_model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(p1, p2), name


def test_orthogonality_penalty_value_and_gradient():
    from spacy_tskd.weighting.similarity import LearnedLanguageModel

    torch.manual_seed(0)
    model = LearnedLanguageModel(6, ["x", "y"], rank=3).double()
    with torch.no_grad():
        model.mu.copy_(torch.randn(2, 6, dtype=torch.float64))
    mu = model.mu.detach().numpy().copy()
    expected = ((mu @ mu.T - np.eye(2)) ** 2).sum()
    value = model.orthogonality_penalty()
    assert float(value.detach()) == pytest.approx(expected, rel=1e-12)
    value.backward()
    np.testing.assert_allclose(model.mu.grad.numpy(), 4 * (mu @ mu.T - np.eye(2)) @ mu, rtol=1e-10)
    # orthonormal language embeddings have no penalty
    with torch.no_grad():
        model.mu.copy_(torch.eye(2, 6, dtype=torch.float64))
    assert float(model.orthogonality_penalty().detach()) == pytest.approx(0.0, abs=1e-12)
    # the rank is capped at the hidden size
    assert LearnedLanguageModel(4, ["x"], rank=64).rank == 4


def _fit(corpora, encoder, tmp_path, **kw):
    from spacy_tskd.weighting.similarity import fit_weights

    params = {k: v for k, v in FIT.items() if k != "seed"}
    params["max_length"] = 128
    params.update(kw)
    return fit_weights(
        source_docs={"a": corpora["a"], "b": corpora["b"]},
        target_docs=corpora["target"],
        encoder=str(encoder),
        output=tmp_path / "weights.json",
        progress=False,
        **params,
    )


def test_fit_weights_bad_inputs(corpora, tiny_encoder_dir, tmp_path):
    from spacy_tskd.weighting.similarity import fit_weights

    kwargs = {k: v for k, v in FIT.items() if k != "seed"}
    kwargs.update(
        max_length=128, encoder=str(tiny_encoder_dir), output=tmp_path / "w.json", progress=False
    )
    with pytest.raises(ValueError, match=r"at least two source languages, got only \['a'\]"):
        fit_weights(source_docs={"a": corpora["a"]}, target_docs=corpora["target"], **kwargs)
    empty = _docbin(tmp_path / "t" / "empty.spacy", [])
    for method in ("avg", "sim"):
        with pytest.raises(ValueError, match=r"empty.spacy holds no docs"):
            fit_weights(
                source_docs={"a": corpora["a"], "b": corpora["b"]},
                target_docs=empty,
                method=method,
                **kwargs,
            )
    assert not (tmp_path / "w.json").exists()  # no partial output


def test_fit_weights_json_round_trip(corpora, tiny_encoder_dir, tmp_path):
    from spacy_tskd.weighting.embeddings import sentence_embeddings
    from spacy_tskd.weighting.similarity import load_similarity_model, load_weights

    data = _fit(corpora, tiny_encoder_dir, tmp_path, method="sim")
    path = tmp_path / "weights.json"
    on_disk = json.loads(path.read_text())
    assert on_disk == json.loads(json.dumps(data))
    assert on_disk["method"] == "sim" and on_disk["sources"] == ["a", "b"]
    assert on_disk["encoder"]["name"] == str(tiny_encoder_dir)
    assert on_disk["encoder"]["hashed"] == ["model.safetensors"]
    assert len(on_disk["encoder"]["sha256"]) == 64
    assert on_disk["params"]["rank"] == 8 and on_disk["params"]["gamma"] == 0.01
    assert on_disk["similarity_model"]["file"] == "weights.safetensors"
    assert (tmp_path / "weights.safetensors").is_file()
    assert on_disk["alpha"][0] > on_disk["alpha"][1]
    assert not list(tmp_path.glob(".*.tmp"))

    loaded = load_weights(path, sources=["b", "a"], encoder=str(tiny_encoder_dir))
    assert loaded["sources"] == ["b", "a"]
    assert loaded["alpha"] == pytest.approx(on_disk["alpha"][::-1])
    load_weights(path, target=corpora["target"])

    # the reloaded model scores exactly like the fitted one (same α from its scores)
    model = load_similarity_model(path)
    assert model.languages == ["a", "b"] and model.rank == 8
    texts = [" ".join(s) for s in _sentences(LANG_A, 5, 9) + _sentences(LANG_B, 5, 10)]
    scores = model.score(texts)
    emb = sentence_embeddings(
        texts, encoder=str(tiny_encoder_dir), max_length=model.max_length, progress=False
    )
    np.testing.assert_allclose(scores, model.score_embeddings(emb))
    assert (scores.argmax(axis=1) == np.array([0] * 5 + [1] * 5)).all()
    again = _fit(corpora, tiny_encoder_dir, tmp_path / "again", method="sim")
    assert again["alpha"] == pytest.approx(data["alpha"])
    refit = load_similarity_model(tmp_path / "again" / "weights.json")
    np.testing.assert_allclose(refit.score_embeddings(emb), scores, rtol=1e-6)


def test_fit_weights_embedding_cache(corpora, tiny_encoder_dir, tmp_path, monkeypatch):
    from spacy_tskd.weighting import embeddings

    cache = tmp_path / "cache"
    first = _fit(corpora, tiny_encoder_dir, tmp_path / "1", method="cosine", embedding_cache=cache)
    assert len(list(cache.glob("*.npy"))) == 3  # two sources and the target

    def fail(*args, **kwargs):
        raise AssertionError("embedded again despite the cache")

    monkeypatch.setattr(embeddings, "sentence_embeddings", fail)
    again = _fit(corpora, tiny_encoder_dir, tmp_path / "2", method="l2", embedding_cache=cache)
    cosine = _fit(corpora, tiny_encoder_dir, tmp_path / "3", method="cosine", embedding_cache=cache)
    assert cosine["alpha"] == pytest.approx(first["alpha"])
    assert np.asarray(again["alpha"]).shape == (2,)
    # other text is a cache miss
    with pytest.raises(AssertionError, match="embedded again"):
        _fit(
            corpora,
            tiny_encoder_dir,
            tmp_path / "4",
            method="l2",
            embedding_cache=cache,
            max_sents=3,
        )


def test_fit_weights_sentence_level(corpora, tiny_encoder_dir, tmp_path):
    from spacy_tskd.weighting.similarity import load_weights

    data = _fit(corpora, tiny_encoder_dir, tmp_path, method="cosine", sentence_level=True)
    assert data["sentence_level"] and data["n_target"] == 12
    assert np.asarray(data["alpha"]).shape == (12, 2)
    assert "similarity_model" not in data
    loaded = load_weights(tmp_path / "weights.json", sources=["a", "b"])
    np.testing.assert_allclose(loaded["alpha_mean"], np.mean(data["alpha"], axis=0))


def _write(path, **changes):
    data = {
        "method": "sim",
        "sentence_level": False,
        "sources": ["en", "de"],
        "alpha": [0.7, 0.3],
        "encoder": {"name": "enc", "sha256": "0" * 64},
    }
    data.update(changes)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"alpha": [0.7, 0.4]}, "sum to 1"),
        ({"alpha": [1.2, -0.2]}, "non-negative"),
        ({"alpha": [0.5, 0.25, 0.25]}, "expected 2 weights"),
        ({"sentence_level": True}, "sentence_level"),
    ],
)
def test_load_weights_bad_alpha(tmp_path, changes, match):
    from spacy_tskd.weighting.similarity import load_weights

    path = _write(tmp_path / "bad.json", **changes)
    with pytest.raises(ValueError, match=match) as err:
        load_weights(path)
    assert str(path) in str(err.value)


def test_load_weights_sources_and_encoder(tmp_path, tiny_encoder_dir):
    from spacy_tskd.weighting.similarity import load_weights

    path = _write(tmp_path / "w.json")
    with pytest.raises(ValueError, match="no weight for the source language") as err:
        load_weights(path, sources=["en", "nl"])
    assert str(path) in str(err.value) and "nl" in str(err.value)
    with pytest.raises(ValueError, match="teachers are en") as err:
        load_weights(path, sources=["en"])
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match="encoder") as err:
        load_weights(path, encoder=str(tiny_encoder_dir))
    assert str(path) in str(err.value)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_weights(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match="junk.json"):
        load_weights(tmp_path / "junk.json")


def test_other_encoder_detected(corpora, tiny_encoder_dir, tmp_path):
    """Weights fitted with one encoder are refused with another (different weights)."""
    from transformers import BertConfig, BertModel

    from spacy_tskd.weighting.similarity import load_weights

    _fit(corpora, tiny_encoder_dir, tmp_path, method="l2")
    other = tmp_path / "other_encoder"
    config = BertConfig.from_pretrained(tiny_encoder_dir)
    torch.manual_seed(1)
    BertModel(config, add_pooling_layer=False).save_pretrained(other)
    load_weights(tmp_path / "weights.json", encoder=str(tiny_encoder_dir))
    with pytest.raises(ValueError, match="computed with the encoder") as err:
        load_weights(tmp_path / "weights.json", encoder=str(other))
    assert str(tmp_path / "weights.json") in str(err.value)


def test_cli_fit_and_show(corpora, tiny_encoder_dir, tmp_path):
    from typer.testing import CliRunner

    from spacy_tskd.cli import app

    runner = CliRunner()
    out = tmp_path / "cli" / "weights.json"
    args = ["weights", "fit", str(corpora["a"]), str(corpora["b"]), "--target"]
    args += [str(corpora["target"]), "--method", "sim", "--encoder", str(tiny_encoder_dir)]
    args += ["--rank", "8", "--gamma", "0.01", "--epochs", "30", "--lr", "0.01"]
    args += ["--batch-size", "16", "--output", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["sources"] == ["a", "b"]  # from the parent directory names
    assert data["alpha"][0] > data["alpha"][1]
    assert (out.parent / "weights.safetensors").is_file()
    assert data["params"]["rank_requested"] == 8  # the option overrides configs/weights.cfg
    result = runner.invoke(app, args + ["--config", str(tmp_path / "none.cfg")])
    assert result.exit_code == 1 and "Config not found" in result.output

    result = runner.invoke(app, ["weights", "show", str(out)])
    assert result.exit_code == 0, result.output
    assert "sim" in result.output and str(tiny_encoder_dir) in result.output
    assert f"{data['alpha'][0]:.4f}" in result.output

    # --langs names the sources; avg at sentence level needs no encoder
    out2 = tmp_path / "cli" / "avg.json"
    args = ["weights", "fit", str(corpora["a"]), str(corpora["b"]), "--langs", "en,de"]
    args += ["--target", str(corpora["target"]), "--method", "avg", "--sentence-level"]
    args += ["--encoder", str(tmp_path / "nowhere"), "--output", str(out2)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(out2.read_text())
    assert data["sources"] == ["en", "de"] and np.allclose(data["alpha"], 0.5)
    assert np.asarray(data["alpha"]).shape == (12, 2)
    result = runner.invoke(app, ["weights", "show", str(out2)])
    assert result.exit_code == 0 and "alpha (mean)" in result.output

    # errors: message and exit code 1
    result = runner.invoke(app, args[:-2] + ["--langs", "en", "--output", str(out2)])
    assert result.exit_code == 1 and "--langs gives 1" in result.output
    same_dir = ["weights", "fit", str(corpora["a"]), str(corpora["a"]), "--target"]
    same_dir += [str(corpora["target"]), "--method", "avg", "--output", str(out2)]
    result = runner.invoke(app, same_dir)
    assert result.exit_code == 1 and "more than once" in result.output
    bad = _write(tmp_path / "bad.json", alpha=[0.9, 0.3])
    result = runner.invoke(app, ["weights", "show", str(bad)])
    assert result.exit_code == 1 and "sum to 1" in result.output
    result = runner.invoke(
        app,
        ["weights", "fit", str(corpora["a"]), "--target"]
        + [str(corpora["target"]), "--method", "bogus", "--output", str(out2)],
    )
    assert result.exit_code == 1 and "Unknown weighting method" in result.output


@pytest.mark.parametrize("method", ["sim", "cosine", "l2"])
def test_every_scheme_prefers_the_source_sharing_the_target_vocabulary(
    method, corpora, tiny_encoder_dir, tmp_path
):
    # the target is written in language a's words, disjoint from language b's
    data = _fit(corpora, tiny_encoder_dir, tmp_path, method=method)
    assert data["method"] == method
    assert data["alpha"][0] > data["alpha"][1], data["alpha"]
    assert data["params"]["tau"] > 0


def test_cosine_and_l2_score_every_target_sentence():
    from spacy_tskd.weighting.similarity import compute_alpha, similarity_values

    rng = np.random.default_rng(0)
    mu = rng.normal(size=(3, 16))
    # target sentences each close to one of the prototypes: per-sentence scores vary
    target = np.concatenate([mu[k] + 0.3 * rng.normal(size=(10, 16)) for k in (0, 0, 1, 2)])
    for method in ("cosine", "l2"):
        values = similarity_values(method, target, mu)
        assert values.shape == (40, 3)
        alpha, tau = compute_alpha(method, target, mu=mu)
        # τ is the population variance of all n × K scores; α the mean of the row softmaxes
        assert tau == pytest.approx(values.var())
        rows = np.exp(values / tau) / np.exp(values / tau).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(alpha, rows.mean(axis=0))
        # not one-hot: every source gets weight, the most frequent one the most
        assert alpha.max() < 0.9 and alpha.min() > 0.1, (method, alpha)
        assert alpha.argmax() == 0


def test_sim_learns_the_language_embeddings(embeddings):
    from spacy_tskd.weighting.language_model import LearnedLanguageModel
    from spacy_tskd.weighting.similarity import fit_similarity_model

    model = fit_similarity_model({"a": embeddings["a"], "b": embeddings["b"]}, **FIT)
    assert isinstance(model, LearnedLanguageModel) and model.rank == 8
    start = np.stack([embeddings["a"].mean(0), embeddings["b"].mean(0)])
    learned = model.mu.detach().numpy()
    assert not np.allclose(learned, start)  # μ is trained, from the language means
    mu = model.mu.detach().double()
    expected = float((((mu @ mu.T) - torch.eye(2, dtype=torch.float64)) ** 2).sum())
    assert float(model.orthogonality_penalty().detach()) == pytest.approx(expected, rel=1e-5)


def test_a_weights_file_of_another_format_is_refused(corpora, tiny_encoder_dir, tmp_path):
    from spacy_tskd.weighting.similarity import load_weights

    _fit(corpora, tiny_encoder_dir, tmp_path, method="avg")
    path = tmp_path / "weights.json"
    data = json.loads(path.read_text())
    data["format"] = 1
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="weights format 1 is not 2.*Re-run `weights fit`"):
        load_weights(path)


def test_recipe_comes_from_the_weights_config(tmp_path):
    from pathlib import Path

    from spacy_tskd.weighting.weights_file import load_recipe

    config = Path(__file__).parent.parent / "configs" / "weights.cfg"
    recipe = load_recipe(config, lr=0.5, rank=None)
    assert recipe == {"rank": 64, "gamma": 0.01, "epochs": 10, "lr": 0.5, "batch_size": 64,
                      "max_length": 128}  # fmt: skip
    partial = tmp_path / "w.cfg"
    partial.write_text("[weights]\nrank = 4\n")
    with pytest.raises(ValueError, match=r"w.cfg: the \[weights\] block lacks gamma"):
        load_recipe(partial)
