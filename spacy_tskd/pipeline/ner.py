"""The ``tskd_ner`` component: token-softmax NER that can be a teacher and a student.

The model gives one row of logits per token over the BIO labels. ``predict``
returns probabilities (softmax); ``set_annotations`` decodes them to ``doc.ents``
with the component's ``decode`` (:mod:`spacy_tskd.data.decode`: ``argmax``, read
the way conlleval reads BIO, or BIO-constrained ``viterbi``) and keeps the
probabilities in ``doc._.tskd_probs`` for later steps.

Labels are collected from the training data in ``initialize`` and kept in the
fixed order ``O, B-T1, I-T1, B-T2, I-T2, ...`` with types sorted
(:func:`spacy_tskd.data.bio.bio_label_order`); they are saved with the model.

Training as a teacher uses ``update`` (cross-entropy on gold BIO tags of the
first piece of each token). Training as a student uses ``distill`` and
``get_teacher_student_loss`` (named as in spaCy v4) against teacher probabilities.
"""

from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d

from ..architectures import token_softmax, transformer  # noqa: F401 (registers)
from ..data.bio import aligned_bio, bio_label_order, split_tag
from ..data.decode import DEFAULT_DECODE, check_decoder, decode_spans
from . import losses as tskd_losses
from .matmul import set_cpu_matmul
from .scoring import make_seqeval_scorer  # noqa: F401 (registers the scorer)

DEFAULT_CONFIG_STR = """
[model]
@architectures = "spacy-tskd.TokenSoftmax.v1"

[model.encoder]
@architectures = "spacy-tskd.TransformerEncoder.v1"
name = "assets/encoder"
max_length = 128
frozen_layers = 3
freeze_embeddings = true
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_CONFIG_STR)["model"]

if not Doc.has_extension("tskd_probs"):
    Doc.set_extension("tskd_probs", default=None)


@Language.factory(
    "tskd_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc._.tskd_probs"],
    default_config={
        "model": DEFAULT_MODEL,
        "distill_loss": "mse",
        "distill_temperature": 1.0,
        "decode": DEFAULT_DECODE,
        "cpu_matmul": "numpy",
        "scorer": {"@scorers": "spacy-tskd.seqeval_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_tskd_ner(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    distill_loss: str,
    decode: str,
    scorer: Optional[Callable],
    cpu_matmul: str = "numpy",
    distill_temperature: float = 1.0,
) -> "TokenSoftmaxNER":
    """Create a ``tskd_ner`` component.

    model (Model[List[Doc], List[Floats2d]]): Logits per token, e.g.
        ``spacy-tskd.TokenSoftmax.v1``.
    distill_loss (str): Loss used by ``distill``: ``"mse"`` (the paper),
        ``"hard"`` (cross-entropy on the teacher's argmax: the HL ablation) or
        ``"soft_ce"`` (cross-entropy on the teacher's distribution) or ``"kl"``
        (T^2 KL divergence at ``distill_temperature`` T, Hinton et al.).
    distill_temperature (float): The temperature of ``"kl"`` (ignored otherwise).
    decode (str): ``"viterbi"`` (BIO-constrained; the default, chosen on English
        dev data) or ``"argmax"`` (the paper's).
    scorer (Optional[Callable]): Scoring method (seqeval, conlleval mode).
    cpu_matmul (str): ``"numpy"`` (NumPy's multi-threaded BLAS; the default, measured
        faster on CPU) or ``"blis"`` (thinc's one-thread default), see
        :mod:`spacy_tskd.pipeline.matmul`.
    """
    set_cpu_matmul(model, cpu_matmul)
    return TokenSoftmaxNER(
        nlp.vocab,
        model,
        name,
        distill_loss=distill_loss,
        decode=decode,
        scorer=scorer,
        distill_temperature=distill_temperature,
    )


class TokenSoftmaxNER(TrainablePipe):
    """Token-softmax NER over BIO labels."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "tskd_ner",
        *,
        distill_loss: str = "mse",
        decode: str = DEFAULT_DECODE,
        scorer: Optional[Callable] = None,
        distill_temperature: float = 1.0,
    ) -> None:
        tskd_losses.get_distill_loss(distill_loss, distill_temperature)  # a bad name fails here
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        # decode is a setting of the pipeline's config (not of cfg, which from_disk
        # restores), so `spacy.load(path, config=...)` can switch it
        self.decode = check_decoder(decode)
        self.cfg: Dict = {
            "labels": [],
            "distill_loss": distill_loss,
            "distill_temperature": float(distill_temperature),
        }

    # -- labels ---------------------------------------------------------------
    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def entity_types(self) -> Tuple[str, ...]:
        return tuple(sorted({split_tag(t)[1] for t in self.labels if t != "O"}))

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    def add_label(self, label: str) -> int:
        raise NotImplementedError(
            "tskd_ner collects its labels from the training data in initialize(); "
            "pass `labels` to initialize() to set them explicitly."
        )

    # -- inference ------------------------------------------------------------
    def predict(self, docs: Iterable[Doc]) -> List[Floats2d]:
        """Probabilities over ``self.labels`` for every token, one array per doc."""
        docs = list(docs)
        if not docs:
            return []
        logits = self.model.predict(docs)
        return [tskd_losses.softmax(self.model.ops.to_numpy(z)) for z in logits]

    def set_annotations(self, docs: Iterable[Doc], probs: Sequence[Floats2d]) -> None:
        """Set ``doc.ents`` with the component's decoder and keep ``doc._.tskd_probs``."""
        labels = self.labels
        for doc, p in zip(docs, probs):
            p = np.asarray(p, dtype=np.float32)
            spans = decode_spans(p, labels, self.decode)
            doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in spans]
            doc._.tskd_probs = p

    # -- teacher training -----------------------------------------------------
    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from gold BIO tags (cross-entropy on each token's first piece)."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "TokenSoftmaxNER.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        losses[self.name] += self._step(
            examples, lambda logits: self.get_loss(examples, logits), drop=drop, sgd=sgd
        )
        return losses

    def _step(self, examples: List[Example], loss_fn, *, drop: float, sgd) -> float:
        """Forward the predicted docs, backprop ``loss_fn(logits)``, update; return the loss."""
        set_dropout_rate(self.model, drop)
        logits, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_logits = loss_fn(logits)
        backprop(d_logits)
        if sgd not in (None, False):
            self.finish_update(sgd)
        return loss

    def get_loss(self, examples: Iterable[Example], scores: List[Floats2d]) -> Tuple[float, List]:
        """Mean cross-entropy over tokens with a gold tag, and its gradient w.r.t. the logits."""
        examples = list(examples)
        targets = [self._gold_indices(eg) for eg in examples]
        z = self.model.ops.xp.concatenate(scores)
        t = self.model.ops.asarray(np.concatenate(targets))
        loss, d = tskd_losses.cross_entropy(z, t)
        return loss, self._split_like(d, scores)

    def _gold_indices(self, eg: Example) -> np.ndarray:
        """Label index per predicted token; -1 where the gold tag is unknown."""
        index = {lab: i for i, lab in enumerate(self.labels)}
        out = np.full(len(eg.predicted), -1, dtype=np.int64)
        for i, tag in enumerate(aligned_bio(eg)):
            if tag is None:
                continue
            if tag not in index:
                raise ValueError(
                    f"Gold tag {tag!r} is not among the component's labels {list(self.labels)}. "
                    "Initialize the pipeline on data with every entity type."
                )
            out[i] = index[tag]
        return out

    # -- student training (spaCy v4 naming) -------------------------------------
    def distill(
        self,
        teacher_pipe: Optional[TrainablePipe],
        examples: Iterable[Example],
        *,
        teacher_scores: Optional[Sequence[Floats2d]] = None,
        token_weights: Optional[Sequence[np.ndarray]] = None,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Train the student on the teacher's probabilities for ``examples``.

        The teacher's distribution comes from ``teacher_scores`` (probabilities
        stored by the annotate step, one array per doc) or, if that is None,
        from running ``teacher_pipe.predict`` on the reference docs.
        ``token_weights`` (one array per doc, or None) weighs each token's loss.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        if teacher_scores is None:
            if teacher_pipe is None:
                raise ValueError("distill() needs a teacher pipe or stored teacher_scores.")
            teacher_scores = teacher_pipe.predict([eg.reference for eg in examples])
        losses[self.name] += self._step(
            examples,
            lambda student_scores: self.get_teacher_student_loss(
                teacher_scores, student_scores, token_weights=token_weights
            ),
            drop=drop,
            sgd=sgd,
        )
        return losses

    def get_teacher_student_loss(
        self,
        teacher_scores: Sequence[Floats2d],
        student_scores: Sequence[Floats2d],
        *,
        token_weights: Optional[Sequence[np.ndarray]] = None,
    ) -> Tuple[float, List[Floats2d]]:
        """Distillation loss and its gradient w.r.t. the student's logits.

        teacher_scores: teacher probabilities per doc, shape (n_tokens, n_labels).
        student_scores: the student model's logits per doc, same shapes.
        token_weights: a weight per token per doc (neighbour-based denoising), or None.
        """
        if len(teacher_scores) != len(student_scores):
            raise ValueError(
                f"{len(teacher_scores)} teacher arrays for {len(student_scores)} student docs."
            )
        for i, (t, s) in enumerate(zip(teacher_scores, student_scores)):
            if t.shape != s.shape:
                raise ValueError(
                    f"Doc {i}: teacher probabilities have shape {t.shape} but the student "
                    f"predicts {s.shape}. The tokens or the label set differ."
                )
        ops = self.model.ops  # the loss runs where the logits are (one copy of q, w there)
        q = ops.asarray2f(np.concatenate([np.asarray(t, dtype=np.float32) for t in teacher_scores]))
        z = ops.xp.concatenate(student_scores)
        loss_fn = tskd_losses.get_distill_loss(
            self.cfg["distill_loss"], self.cfg.get("distill_temperature", 1.0)
        )
        w = None if token_weights is None else ops.asarray(np.concatenate(token_weights))
        loss, d = loss_fn(z, q, w)
        return loss, self._split_like(d, student_scores)

    def _split_like(self, d: np.ndarray, like: Sequence[Floats2d]) -> List[Floats2d]:
        splits = np.cumsum([len(x) for x in like])[:-1].tolist()
        xp = self.model.ops.xp
        return [self.model.ops.asarray2f(x) for x in xp.split(d.astype(xp.float32), splits)]

    # -- set-up ---------------------------------------------------------------
    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Collect the labels from the data (or take ``labels``) and load the encoder."""
        if labels is None:
            types = set()
            for eg in get_examples():
                types.update(ent.label_ for ent in eg.reference.ents)
            if not types:
                raise ValueError(
                    "tskd_ner found no entities in the initialization data; it needs "
                    "annotated examples (doc.ents) or an explicit label list."
                )
            labels = bio_label_order(types)
        else:
            labels = list(labels)
            types = {split_tag(t)[1] for t in labels if t != "O"}
            if labels != bio_label_order(types):
                raise ValueError(
                    f"Labels must be in the fixed order {bio_label_order(types)}, got {labels}."
                )
        self.cfg["labels"] = list(labels)
        self.model.get_ref("output_layer").set_dim("nO", len(labels))
        # a sample doc lets layers size themselves from the vocab (static vectors)
        self.model.initialize(X=[Doc(self.vocab, words=["init"])])

    def finish_update(self, sgd: Optimizer) -> None:
        self.model.finish_update(sgd)
