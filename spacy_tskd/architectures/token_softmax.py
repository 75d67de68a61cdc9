"""``spacy-tskd.TokenSoftmax.v1``/``v2``: encoder -> linear layer -> logits over BIO labels.

The model outputs *logits*, one row per token; the ``tskd_ner`` component turns
them into probabilities with a softmax, so that every loss (cross-entropy,
distillation MSE, soft cross-entropy) can backpropagate its exact gradient.

The encoder is any ``Model[List[Doc], List[Floats2d]]`` with an ``nO`` dimension:
``spacy-tskd.TransformerEncoder.v1`` (transformer) or a spaCy tok2vec such as
``spacy.Tok2Vec.v2`` (``configs/student_cnn.cfg``). A tok2vec trained from
scratch has large outputs at initialisation; with ``spacy-tskd.TokenSoftmax.v2``
its output layer starts at zero (``init_W = zero_init.v1``, as spaCy's own taggers) so that the softmax does not
start saturated, where the MSE gradient vanishes.
"""

from __future__ import annotations

from typing import Callable, List, Optional

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Linear, Model, chain, with_array
from thinc.types import Floats2d


@registry.architectures("spacy-tskd.TokenSoftmax.v1")
def build_token_softmax(
    encoder: Model[List[Doc], List[Floats2d]], nO: Optional[int] = None
) -> Model[List[Doc], List[Floats2d]]:
    """Token-level classifier: ``encoder`` vectors -> ``Linear`` -> logits.

    encoder (Model[List[Doc], List[Floats2d]]): One vector per token, e.g.
        ``spacy-tskd.TransformerEncoder.v1``.
    nO (Optional[int]): Number of labels; set by the component in ``initialize``.
    """
    return build_token_softmax_v2(encoder, nO=nO)


@registry.architectures("spacy-tskd.TokenSoftmax.v2")
def build_token_softmax_v2(
    encoder: Model[List[Doc], List[Floats2d]],
    nO: Optional[int] = None,
    init_W: Optional[Callable] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """As v1, plus ``init_W``: the output layer's weight initializer.

    encoder (Model[List[Doc], List[Floats2d]]): One vector per token, e.g.
        ``spacy-tskd.TransformerEncoder.v1`` or ``spacy.Tok2Vec.v2``.
    nO (Optional[int]): Number of labels; set by the component in ``initialize``.
    init_W (Optional[Callable]): Initializer of the output weights (e.g.
        ``zero_init.v1`` for a tok2vec); None keeps thinc's default (Glorot
        uniform), which makes v2 without ``init_W`` identical to v1.
    """
    output_layer = Linear(nO=nO) if init_W is None else Linear(nO=nO, init_W=init_W)
    model = chain(encoder, with_array(output_layer))
    model.set_ref("encoder", encoder)
    model.set_ref("output_layer", output_layer)
    model.init = _init
    return model


def _init(model: Model, X=None, Y=None) -> None:
    encoder = model.get_ref("encoder")
    encoder.initialize(X=X)
    output_layer = model.get_ref("output_layer")
    output_layer.set_dim("nI", encoder.get_dim("nO"))
    output_layer.initialize()
