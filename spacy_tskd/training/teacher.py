"""Teacher training: a thin wrapper over spaCy's own trainer.

spaCy's ``warmup_linear.v1`` schedule needs the total number of steps, which
depends on the size of the (possibly sub-sampled) training set. This wrapper
counts the training docs, sets ``warmup_steps`` (``warmup_frac`` of the total,
10 % by default) and ``total_steps``, scores the source dev set after the last update
(``eval_frequency``), and then runs ``spacy train``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Optional

from ..util import PathLike


def count_docs(path: PathLike, limit: int = 0) -> int:
    """Number of docs in a ``.spacy`` file (at most ``limit`` if > 0)."""
    from spacy.tokens import DocBin

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Training data not found: {path}. Run the convert step first.")
    n = len(DocBin().from_disk(path))
    return min(n, limit) if limit else n


def check_labelled(path: PathLike, what: str) -> None:
    """Raise ValueError unless the DocBin ``path`` holds at least one entity."""
    import spacy
    from spacy.tokens import DocBin

    count_docs(path)
    docs = DocBin().from_disk(path).get_docs(spacy.blank("xx").vocab)
    if not any(doc.ents for doc in docs):
        raise ValueError(
            f"The {what} {path} has no entities: the teacher learns from and is scored on "
            "gold entities. Give a labelled file (CoNLL/IOB, JSONL spans or a DocBin with "
            "doc.ents) to the convert step."
        )


def schedule_overrides(config) -> Dict[str, Any]:
    """Overrides that make the warm-up/decay schedule match the training-set size
    (``[tskd] warmup_frac`` of the steps warm up)."""
    train_path = config["paths"]["train"]
    if train_path is None:
        raise ValueError("paths.train is not set: pass --paths.train corpus/LANG/train.spacy.")
    check_labelled(train_path, "source training set")
    if not config["paths"].get("dev"):
        raise ValueError("paths.dev is not set: a teacher needs a labelled source dev set.")
    check_labelled(config["paths"]["dev"], "source dev set")
    n_docs = count_docs(train_path, int(config["corpora"]["train"].get("limit", 0) or 0))
    size = int(config["training"]["batcher"]["size"])
    epochs = int(config["training"]["max_epochs"])
    if epochs < 1:
        raise ValueError("training.max_epochs must be >= 1 for teacher training.")
    total = max(1, math.ceil(n_docs / size)) * epochs  # the bucket batcher's batches
    return {
        "training.optimizer.learn_rate.total_steps": total,
        "training.optimizer.learn_rate.warmup_steps": int(
            round(float(config["tskd"]["warmup_frac"]) * total)
        ),
        # spaCy scores the dev set after the updates of steps 0, f, 2f, ... (0-based)
        # and never after the last one unless f divides total - 1: so the source dev
        # score after the last update is in the teacher's meta.json ("performance");
        # a teacher that collapsed shows there
        "training.eval_frequency": max(1, total - 1),
    }


def train_teacher(
    *,
    config_path: PathLike,
    output_path: Optional[PathLike],
    overrides: Optional[Dict[str, Any]] = None,
    gpu_id: int = -1,
) -> None:
    """Train a teacher with spaCy's trainer; ``output_path/model-last`` is the teacher."""
    from spacy.cli.train import train
    from spacy.util import load_config

    import spacy_tskd.pipeline.ner  # noqa: F401  (registers the component and layers)
    import spacy_tskd.training.batching  # noqa: F401

    overrides = dict(overrides or {})
    config = load_config(config_path, overrides=overrides, interpolate=True)
    overrides.update(schedule_overrides(config))
    train(config_path, output_path, use_gpu=gpu_id, overrides=overrides)
