"""The study's settings: which experiments, data sizes and recipes, checked once.

The recipe settings (epochs, learning rates, batch size, decoder) default to None,
which takes the value of the teacher and student configs: their defaults live there and
in project.yml only. The exception is the student's loss and epochs: the study is the
paper's, so its TS rows keep the paper's student (MSE, 1 epoch), whatever the plugin's
default student is (configs/student.cfg, chosen in docs/defaults.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from spacy_tskd.data.decode import check_decoder

from .steps import CONFIGS

WEIGHTS_FORMAT = 2  # spacy_tskd.weighting.similarity.FORMAT_VERSION (not imported: torch)
SINGLE_SYSTEMS = ("MT", "TS", "HL")  # the method before its ablation, so TS cells land first
MULTI_SYSTEMS = ("MT-avg", "MT-sim", "TS-avg", "TS-sim", "TS-cosine", "TS-l2")
ONLY = ("all", "single", "multi")
DATA_SETTINGS = ("conll", "teacher_sents", "target_sents", "test_sents", "dev_sents")
# what out_dir's artifacts depend on: a run with other values is refused
ARTIFACT_SETTINGS = DATA_SETTINGS + (
    "teacher_epochs",
    "teacher_lr",
    "student_epochs",
    "student_loss",
    "student_lr",
    "student_batch",
)


@dataclass
class ReproduceSettings:
    """The study's settings; sizes of 0 keep every sentence (the full data).

    ``seeds``, ``targets``, ``only`` and ``systems`` (empty = every system) select
    a part of the study, so it can be spread over several runs into the same folders.
    """

    data_dir: str = "../shared/data"
    conll: str = "conll"
    encoder: str = "assets/encoder"
    languages: Sequence[str] = ("en", "de", "es", "nl")
    single_source: str = "en"
    targets: Sequence[str] = ("es", "nl", "de")
    seeds: Sequence[int] = (0, 1, 2)
    only: str = "all"
    systems: Sequence[str] = ()
    teacher_sents: int = 0
    target_sents: int = 0
    test_sents: int = 0
    dev_sents: int = 0
    # recipes: None takes the value of teacher_config / student_config (the defaults
    # live there and in project.yml, nowhere else)
    teacher_epochs: Optional[int] = None
    teacher_lr: Optional[float] = None
    # the paper's student, as in every published study row (HL always uses "hard")
    student_epochs: Optional[int] = 1
    student_loss: str = "mse"
    student_lr: Optional[float] = None
    student_batch: Optional[int] = None
    # how probabilities become entities for every system (the paper: argmax); None: the
    # student config's; each result also holds every decoder's scores ("scores_by_decode")
    decode: Optional[str] = None
    gpu_id: int = -1
    teacher_config: str = str(CONFIGS / "teacher.cfg")
    student_config: str = str(CONFIGS / "student.cfg")


# each recipe setting and where its default lives: (config, dotted path)
_CONFIG_DEFAULTS = {
    "teacher_epochs": ("teacher_config", "training.max_epochs"),
    "teacher_lr": ("teacher_config", "training.optimizer.learn_rate.initial_rate"),
    "student_epochs": ("student_config", "distillation.max_epochs"),
    "student_lr": ("student_config", "distillation.optimizer.learn_rate.initial_rate"),
    "student_batch": ("student_config", "distillation.batch_size"),
    "decode": ("student_config", "components.tskd_ner.decode"),
}


def with_config_defaults(s: ReproduceSettings) -> ReproduceSettings:
    """``s`` with every recipe setting left at None read from its config file."""
    from spacy.util import load_config

    configs: Dict[str, Any] = {}
    values = {}
    for key, (which, dotted) in _CONFIG_DEFAULTS.items():
        if getattr(s, key) is not None:
            continue
        path = getattr(s, which)
        if path not in configs:
            if not Path(path).is_file():
                raise FileNotFoundError(
                    f"{path} not found: run the study from the project directory (its "
                    f"configs/ hold the defaults), or give --{key.replace('_', '-')}."
                )
            configs[path] = load_config(path, interpolate=False)
        node = configs[path]
        for part in dotted.split("."):
            node = node[part]
        values[key] = node
    return replace(s, **values)


def check_settings(s: ReproduceSettings) -> None:
    check_decoder(s.decode)
    if s.only not in ONLY:
        raise ValueError(f"only must be one of {', '.join(ONLY)}, got {s.only!r}.")
    unknown = [x for x in s.systems if x not in SINGLE_SYSTEMS + MULTI_SYSTEMS]
    if unknown:
        raise ValueError(
            f"Unknown system(s) {', '.join(unknown)}: choose from "
            f"{', '.join(SINGLE_SYSTEMS + MULTI_SYSTEMS)} (comma-separated), or all."
        )
    if not s.seeds:
        raise ValueError("No seeds given (e.g. --seeds 0,1,2).")
    if not s.targets:
        raise ValueError("No target languages given (e.g. --targets es,nl,de).")
    unknown = [t for t in s.targets if t not in s.languages]
    if unknown:
        raise ValueError(
            f"Target(s) {', '.join(unknown)} are not among the languages "
            f"{', '.join(s.languages)}: every target needs its own data and teacher."
        )
    if s.only != "multi" and s.single_source not in s.languages:
        raise ValueError(
            f"The single source {s.single_source!r} is not among the languages "
            f"{', '.join(s.languages)}."
        )
    if s.only != "single" and len(s.languages) < 3:
        raise ValueError(
            f"Multi-source transfer needs at least two sources per target; the languages "
            f"are only {', '.join(s.languages)}."
        )
    for key in ("teacher_sents", "target_sents", "test_sents", "dev_sents"):
        if getattr(s, key) < 0:
            raise ValueError(f"{key} must be 0 (all) or positive, got {getattr(s, key)}.")
    for key in ("teacher_epochs", "student_epochs", "student_batch"):
        if getattr(s, key) < 1:
            raise ValueError(f"{key} must be at least 1, got {getattr(s, key)}.")
    for key in ("teacher_lr", "student_lr"):
        if not getattr(s, key) > 0:
            raise ValueError(f"{key} must be positive, got {getattr(s, key)}.")


__all__ = ["MULTI_SYSTEMS", "ONLY", "SINGLE_SYSTEMS", "ReproduceSettings", "with_config_defaults"]
