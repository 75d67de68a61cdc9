"""BIO-constrained Viterbi and argmax decoding (spacy_tskd.data.decode)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from spacy_tskd.data.bio import bio_label_order, bio_to_spans, split_tag
from spacy_tskd.data.decode import decode_bio, decode_spans, viterbi_indices

LABELS = bio_label_order(["LOC", "PER"])  # O, B-LOC, I-LOC, B-PER, I-PER


def _valid(tags):
    prev = "O"
    for tag in tags:
        prefix, typ = split_tag(tag)
        if prefix == "I" and (prev == "O" or split_tag(prev)[1] != typ):
            return False
        prev = tag
    return True


def _probs(rows):
    p = np.asarray(rows, dtype=np.float64)
    return p / p.sum(axis=1, keepdims=True)


def test_viterbi_never_emits_i_after_o_or_other_type():
    # argmax: O, I-PER, B-LOC, I-PER -> invalid twice
    p = _probs(
        [
            [0.9, 0.02, 0.02, 0.03, 0.03],
            [0.40, 0.02, 0.02, 0.11, 0.45],
            [0.1, 0.6, 0.1, 0.1, 0.1],
            [0.1, 0.1, 0.35, 0.05, 0.4],
        ]
    )
    argmax_tags = [LABELS[i] for i in p.argmax(axis=1)]
    assert not _valid(argmax_tags)
    tags = [LABELS[i] for i in viterbi_indices(p, LABELS)]
    assert _valid(tags)
    # the best valid sequence: O O B-LOC I-LOC (I-LOC 0.35 beats the alternatives)
    assert tags == ["O", "O", "B-LOC", "I-LOC"]


def test_viterbi_is_the_best_valid_sequence_by_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(1, 5))
        p = rng.dirichlet(np.ones(len(LABELS)) * 0.5, size=n)
        best, best_score = None, -np.inf
        for seq in itertools.product(range(len(LABELS)), repeat=n):
            tags = [LABELS[i] for i in seq]
            if not _valid(tags):
                continue
            score = float(np.log(p[np.arange(n), list(seq)]).sum())
            if score > best_score:
                best, best_score = list(seq), score
        assert list(viterbi_indices(p, LABELS)) == best


def test_viterbi_equals_argmax_when_argmax_is_valid():
    p = _probs(
        [[0.1, 0.7, 0.1, 0.05, 0.05], [0.1, 0.1, 0.6, 0.1, 0.1], [0.8, 0.05, 0.05, 0.05, 0.05]]
    )
    assert decode_spans(p, LABELS, "viterbi") == decode_spans(p, LABELS, "argmax")
    assert decode_spans(p, LABELS, "argmax") == [(0, 2, "LOC")]


def test_argmax_reads_stray_i_like_conlleval():
    p = _probs([[0.9, 0.02, 0.02, 0.03, 0.03], [0.1, 0.05, 0.05, 0.1, 0.7]])
    assert decode_spans(p, LABELS, "argmax") == bio_to_spans(["O", "I-PER"]) == [(1, 2, "PER")]
    assert decode_bio([p], LABELS, "argmax") == [["O", "B-PER"]]


def test_empty_doc_and_zero_probabilities():
    assert decode_spans(np.zeros((0, len(LABELS))), LABELS, "viterbi") == []
    p = np.zeros((2, len(LABELS)))
    p[:, 2] = 1.0  # only I-LOC has mass: the decoder must still return a valid sequence
    tags = decode_bio([p], LABELS, "viterbi")[0]
    assert _valid(tags)


def test_unknown_decoder_is_refused():
    with pytest.raises(ValueError, match="Unknown decode 'beam': choose one of argmax, viterbi"):
        decode_spans(np.ones((1, len(LABELS))), LABELS, "beam")
