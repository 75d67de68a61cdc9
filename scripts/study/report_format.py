"""Cells, labels and row order of the results report (``report.py``)."""

from __future__ import annotations

import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from spacy_tskd.evaluation.table import markdown_table

from .paper import NO_PAPER, PAPER_MBERT
from .results import CONLL_LANGUAGES, SINGLE_SOURCES, SYSTEMS, TARGETS, Group, GroupKey


def mean_sd(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def format_cell(values: Sequence[float], *, show_n: bool = True) -> str:
    """``mean ± sd (n)`` of F1 values in %; ``mean ± – (1)`` for one value."""
    if not values:
        return "missing"
    mean, sd = mean_sd(values)
    text = f"{mean:.2f} ± " + ("–" if sd is None else f"{sd:.2f}")
    return text + (f" ({len(values)})" if show_n else "")


def expected_sources(setting: str, target: str) -> Tuple[str, ...]:
    if setting == "single":
        return SINGLE_SOURCES
    return tuple(lang for lang in CONLL_LANGUAGES if lang != target)


def cell_group(groups: Dict[GroupKey, Group], setting: str, system: str, target: str, recipe: str):
    return groups.get((setting, system, expected_sources(setting, target), target, recipe))


def recipes_of(groups: Dict[GroupKey, Group]) -> List[str]:
    """The teacher recipes of the results, the most recently used first."""
    newest: Dict[str, str] = {}
    for g in groups.values():
        for run in g.runs.values():
            newest[g.key[4]] = max(newest.get(g.key[4], ""), str(run.get("created", "")))
    return sorted(newest, key=lambda recipe: newest[recipe], reverse=True)


def recipe_label(name: str, recipe: str, recipes: Sequence[str]) -> str:
    """``name``, followed by its recipe when the results hold more than one."""
    if len(recipes) < 2:
        return name
    return f"{name} · {recipe or 'recipe not recorded'}"


def ordered_keys(groups: Dict[GroupKey, Group]) -> List[GroupKey]:
    recipes = recipes_of(groups)

    def key(k: GroupKey):
        setting, system, sources, target, recipe = k
        order = SYSTEMS[setting]
        return (
            0 if setting == "single" else 1,
            TARGETS.index(target) if target in TARGETS else len(TARGETS),
            target,
            recipes.index(recipe),
            order.index(system) if system in order else len(order),
            system,
            sources,
        )

    return sorted(groups, key=key)


def paper_cell(setting: str, system: str) -> str:
    numbers = PAPER_MBERT.get((setting, system))
    if not numbers:
        return NO_PAPER
    return " / ".join(f"{numbers[t]:.2f}" if t in numbers else "–" for t in TARGETS)


def md_lines(head: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    return markdown_table(head, rows).split("\n")


def encoder_name(run: Dict) -> str:
    enc = run.get("encoder") or {}
    name, sha = enc.get("name", "?"), enc.get("sha256")
    return f"{name} ({str(sha)[:12]})" if sha else str(name)
