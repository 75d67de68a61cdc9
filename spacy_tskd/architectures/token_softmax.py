"""``spacy-tskd.TokenSoftmax.v1``: encoder -> linear layer -> logits over BIO labels.

The model outputs *logits*, one row per token; the ``tskd_ner`` component turns
them into probabilities with a softmax, so that every loss (cross-entropy,
distillation MSE, soft cross-entropy) can backpropagate its exact gradient.
"""

from __future__ import annotations

from typing import List, Optional

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
        ``spacy-tskd.FirstPieceEncoder.v1``.
    nO (Optional[int]): Number of labels; set by the component in ``initialize``.
    """
    output_layer = Linear(nO=nO)
    model = chain(encoder, with_array(output_layer))
    model.set_ref("encoder", encoder)
    model.set_ref("output_layer", output_layer)
    model.init = _init
    return model


def _init(model: Model, X=None, Y=None) -> None:
    encoder = model.get_ref("encoder")
    encoder.initialize()
    output_layer = model.get_ref("output_layer")
    output_layer.set_dim("nI", encoder.get_dim("nO"))
    output_layer.initialize()
