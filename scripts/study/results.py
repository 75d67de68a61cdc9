"""The study's result files (``results/**/*.json``, format ``spacy-tskd-result/1``):
reading, checking and grouping the seeds of one experiment.

An experiment is identified by its setting, system, sources, target *and recipe*
(the teacher's epochs and learning rate, from the result's ``settings``), so results
made with an earlier recipe stay rows of their own instead of being averaged in as
extra seeds."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from spacy_tskd.util import PathLike

RESULT_FORMAT = "spacy-tskd-result/1"


TARGETS = ("es", "nl", "de")  # the paper's column order


CONLL_LANGUAGES = ("de", "en", "es", "nl")


SINGLE_SOURCES = ("en",)


SYSTEMS = {
    "single": ("MT", "HL", "TS"),
    "multi": ("MT-avg", "MT-sim", "TS-avg", "TS-sim", "TS-cosine", "TS-l2"),
}


GroupKey = Tuple[str, str, Tuple[str, ...], str, str]  # (setting, system, sources, target, recipe)


def recipe_of(data: Dict) -> str:
    """The teacher recipe a result was made with, e.g. ``"teacher 3 ep, lr 2e-4"``;
    ``""`` when its ``settings`` do not say."""
    settings = data.get("settings") or {}
    epochs, lr = settings.get("teacher_epochs"), settings.get("teacher_lr")
    if epochs is None or lr is None:
        return ""
    mantissa, exponent = f"{float(lr):.3e}".split("e")
    return f"teacher {epochs} ep, lr {mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


@dataclass
class Group:
    """All seeds of one experiment: (setting, system, sources, target, recipe)."""

    key: GroupKey
    runs: Dict[int, Dict] = field(default_factory=dict)  # seed -> result
    files: Dict[int, Path] = field(default_factory=dict)

    @property
    def seeds(self) -> List[int]:
        return sorted(self.runs)

    def values(self, score: str = "ents_f") -> List[float]:
        return [100 * float(self.runs[s]["scores"][score]) for s in self.seeds]

    def type_values(self, label: str) -> List[float]:
        per = (self.runs[s]["scores"].get("ents_per_type") or {} for s in self.seeds)
        return [100 * float(p[label]["f"]) for p in per if label in p]


def load_results(results_dirs: Sequence[PathLike]) -> Tuple[Dict[GroupKey, Group], int, List[Path]]:
    """Read and group every result JSON under one or more folders.

    RETURNS (Tuple[Dict[GroupKey, Group], int, List[Path]]): The groups, the number
        of result files read, and the JSON files skipped because they are not results.
    """
    roots = [Path(d) for d in results_dirs]
    for root in roots:
        if not root.is_dir():
            raise FileNotFoundError(f"Results directory not found: {root}")
    paths = [path for root in roots for path in sorted(root.rglob("*.json"))]
    groups: Dict[GroupKey, Group] = {}
    skipped: List[Path] = []
    n_files = 0
    for path in paths:
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is not valid JSON ({err}): fix or remove it.") from None
        fmt = data.get("format") if isinstance(data, dict) else None
        if fmt != RESULT_FORMAT:
            warnings.warn(
                f"Skipping {path}: not a result file (format {fmt!r}, expected {RESULT_FORMAT!r}).",
                stacklevel=2,
            )
            skipped.append(path)
            continue
        key, seed = _check_result(data, path)
        group = groups.setdefault(key, Group(key))
        if seed in group.runs:
            raise ValueError(
                f"Two results for {_describe(key)}, seed {seed}: {group.files[seed]} and "
                f"{path}. Remove one of them (a seed is counted once)."
            )
        group.runs[seed] = data
        group.files[seed] = path
        n_files += 1
    if not groups:
        where = ", ".join(map(str, roots))
        raise ValueError(
            f"No result files ({RESULT_FORMAT}) under {where}: run the experiments first."
        )
    return groups, n_files, skipped


def _check_result(data: Dict, path: Path) -> Tuple[GroupKey, int]:
    def bad(what: str) -> ValueError:
        return ValueError(f"{path}: {what} (format {RESULT_FORMAT}).")

    setting = data.get("setting")
    if setting not in SYSTEMS:
        raise bad(f"'setting' must be 'single' or 'multi', got {setting!r}")
    system, target, seed = data.get("system"), data.get("target"), data.get("seed")
    if not isinstance(system, str) or not system:
        raise bad(f"'system' must be a name such as {SYSTEMS[setting]}, got {system!r}")
    if not isinstance(target, str) or not target:
        raise bad(f"'target' must be a language code, got {target!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise bad(f"'seed' must be an integer, got {seed!r}")
    sources = data.get("sources")
    if (
        not isinstance(sources, list)
        or not sources
        or not all(isinstance(s, str) and s for s in sources)
    ):
        raise bad(f"'sources' must be a non-empty list of language codes, got {sources!r}")
    scores = data.get("scores")
    if not isinstance(scores, dict):
        raise bad("'scores' is missing")
    for name in ("ents_f", "ents_p", "ents_r"):
        value = scores.get(name)
        if name == "ents_f" and value is None:
            raise bad("'scores.ents_f' is missing")
        if value is not None and (
            not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1
        ):
            raise bad(f"'scores.{name}' must be a fraction in [0, 1], got {value!r}")
    per = scores.get("ents_per_type") or {}
    if not isinstance(per, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("f"), (int, float)) for v in per.values()
    ):
        raise bad("'scores.ents_per_type' must map each type to {'p', 'r', 'f'}")
    return (setting, system, tuple(sorted(sources)), target, recipe_of(data)), seed


def _describe(key: GroupKey) -> str:
    setting, system, sources, target, recipe = key
    recipe = f", {recipe}" if recipe else ""
    return f"{system} ({setting}-source, {'+'.join(sources)} → {target}{recipe})"
