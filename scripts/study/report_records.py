"""The report's records: every result, source weights, step times and recipes."""

from __future__ import annotations

import statistics
from typing import Dict, List, Tuple

from .report_format import (
    encoder_name,
    format_cell,
    md_lines,
    ordered_keys,
    recipe_label,
    recipes_of,
)
from .results import Group, GroupKey


def all_results_section(groups: Dict[GroupKey, Group]) -> List[str]:
    rows = []
    for key in ordered_keys(groups):
        g = groups[key]
        setting, system, sources, target, recipe = key
        runs = [g.runs[s] for s in g.seeds]
        p = [100 * float(r["scores"]["ents_p"]) for r in runs if "ents_p" in r["scores"]]
        r_ = [100 * float(r["scores"]["ents_r"]) for r in runs if "ents_r" in r["scores"]]
        encoders = sorted({encoder_name(r) for r in runs})
        devices = sorted({str((r.get("hardware") or {}).get("device", "?")) for r in runs})
        walls = [float(r["wall_seconds"]) for r in runs if r.get("wall_seconds") is not None]
        rows.append(
            [
                setting,
                system,
                "+".join(sources),
                target,
                recipe or "–",
                ", ".join(map(str, g.seeds)),
                format_cell(g.values()),
                format_cell(p, show_n=False) if p else "–",
                format_cell(r_, show_n=False) if r_ else "–",
                ("mixed: " if len(encoders) > 1 else "") + "; ".join(encoders),
                ", ".join(devices),
                f"{statistics.fmean(walls):.0f}" if walls else "–",
            ]
        )
    head = [
        "setting",
        "system",
        "sources",
        "target",
        "recipe",
        "seeds",
        "F1",
        "P",
        "R",
        "encoder (sha256)",
        "device",
        "wall s (mean)",
    ]
    return ["## All results", "", *md_lines(head, rows), ""]


def weights_section(groups: Dict[GroupKey, Group]) -> List[str]:
    """The source weights α each weighted multi-source result used (avg is uniform)."""
    rows = []
    recipes = recipes_of(groups)
    for key in ordered_keys(groups):
        setting, system, sources, target, recipe = key
        if setting != "multi" or system.endswith("-avg"):
            continue
        for seed in groups[key].seeds:
            alpha = groups[key].runs[seed].get("alpha")
            if alpha:
                shown = ", ".join(f"{src} {float(alpha[src]):.3f}" for src in sorted(alpha))
                rows.append([target, recipe_label(system, recipe, recipes), str(seed), shown])
    if not rows:
        return []
    return [
        "## Source weights",
        "",
        "α over the sources as used by each weighted multi-source result (MT: the "
        "ensemble; TS: the student's soft targets). avg is uniform.",
        "",
        *md_lines(["target", "system", "seed", "α"], rows),
        "",
    ]


STEP_KINDS = ("teacher", "annotate", "weights", "student", "predict", "convert", "score")


# Recipe keys of a result's ``settings`` shown in the report (see scripts/study/reproduce.py).
RECIPE_KEYS = (
    "teacher_sents",
    "target_sents",
    "test_sents",
    "teacher_epochs",
    "teacher_lr",
    "student_epochs",
    "student_lr",
    "student_batch",
)

RECIPE_NOTE = (
    "How the recipe was chosen: on source-language (English) dev data only, never on a "
    "target test set: the teacher's epochs and learning rate by the best English dev F1 of "
    "a sweep (CHANGELOG.md, 2026-12-01), the student's batch size by the held-out no-gold "
    "monitor. The values below are read from the results' settings; `configs/teacher.cfg` "
    "and `configs/student.cfg` hold them. `0` sentences means the full split."
)


def recipe_section(groups: Dict[GroupKey, Group]) -> List[str]:
    """The recipe values found in the results' ``settings`` (one row per distinct recipe)."""
    recipes: Dict[Tuple, List[str]] = {}
    for key in ordered_keys(groups):
        for seed in groups[key].seeds:
            settings = groups[key].runs[seed].get("settings") or {}
            recipe = tuple(settings.get(k, "–") for k in RECIPE_KEYS)
            recipes.setdefault(recipe, []).append(f"{key[1]} {key[3]} s{seed}")
    rows = [[*map(str, recipe), ", ".join(runs)] for recipe, runs in recipes.items()]
    head = [*RECIPE_KEYS, "results"]
    return ["## Recipe", "", RECIPE_NOTE, "", *md_lines(head, rows), ""]
