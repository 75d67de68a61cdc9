"""The report's F1 tables: the paper's layout, per type, Fig. 5 and both decoders."""

from __future__ import annotations

import re
import statistics
from typing import Dict, List

from .analysis import merge_bins
from .paper import TableSpec
from .plots import bar_chart, fig5_chart
from .report_format import (
    cell_group,
    format_cell,
    md_lines,
    mean_sd,
    ordered_keys,
    paper_cell,
    recipe_label,
    recipes_of,
)
from .results import TARGETS, Group, GroupKey


def table_section(spec: TableSpec, groups: Dict[GroupKey, Group], figure) -> List[str]:
    head = ["system", *TARGETS, "avg", "paper (mBERT): " + " / ".join(TARGETS)]
    recipes = recipes_of(groups)
    rows, labels, bars, missing = [], [], [], []
    for setting, system, name in spec.rows:
        found = [
            r for r in recipes if any(k[:2] == (setting, system) and k[4] == r for k in groups)
        ]
        for recipe in found or recipes[:1]:
            label = recipe_label(name, recipe, recipes)
            cells, means = [], []
            for target in TARGETS:
                group = cell_group(groups, setting, system, target, recipe)
                if group is None:
                    cells.append("missing")
                    missing.append(f"{label} {target}")
                    continue
                values = group.values()
                cells.append(format_cell(values))
                mean, sd = mean_sd(values)
                means.append(mean)
                bars.append((label, target, mean, sd))
            avg = f"{statistics.fmean(means):.2f}" if len(means) == len(TARGETS) else "missing"
            rows.append([label, *cells, avg, paper_cell(setting, system)])
            labels.append(label)
    lines = [f"## {spec.title}", "", spec.intro, "", *md_lines(head, rows), ""]
    if bars:
        rel = figure(spec.key, bar_chart(spec.title, labels, bars, missing))
        lines += [f"![{spec.title}]({rel})", ""]
        if missing:
            lines += ["Left out of the chart (missing): " + ", ".join(missing) + ".", ""]
    else:
        lines += ["No results for this table yet: no chart.", ""]
    return lines


def fig5_section(groups: Dict[GroupKey, Group], figure) -> List[str]:
    lines = [
        "## Fig. 5: teacher mispredictions the student corrects",
        "",
        "Single-source TS: every token the teacher labels wrongly, binned by the teacher's "
        "confidence (its highest probability; bins are [lo, hi), the last one [0.9, 1.0] "
        "includes 1.0); `corrected` counts those the student labels correctly. Counts are "
        "summed over seeds.",
        "",
    ]
    found = False
    recipes = recipes_of(groups)
    for key in ordered_keys(groups):
        setting, system, sources, target, recipe = key
        group = groups[key]
        seeds = [s for s in group.seeds if group.runs[s].get("fig5")]
        if setting != "single" or system != "TS" or not seeds:
            continue
        found = True
        try:
            bins = merge_bins(group.runs[s]["fig5"] for s in seeds)
        except (KeyError, TypeError, ValueError) as err:
            files = ", ".join(str(group.files[s]) for s in seeds)
            raise ValueError(f"Bad 'fig5' counts in {files}: {err}") from None
        name = recipe_label(f"{'+'.join(sources)} → {target}", recipe, recipes)
        rows = []
        for i, b in enumerate(bins):
            close = "]" if i == len(bins) - 1 else ")"
            share = (
                f"{100 * b['corrected'] / b['teacher_errors']:.1f} %"
                if b["teacher_errors"]
                else "–"
            )
            rows.append(
                [
                    f"[{b['lo']:.1f}, {b['hi']:.1f}{close}",
                    str(b["teacher_errors"]),
                    str(b["corrected"]),
                    share,
                ]
            )
        total_e = sum(b["teacher_errors"] for b in bins)
        total_c = sum(b["corrected"] for b in bins)
        rows.append(
            [
                "all",
                str(total_e),
                str(total_c),
                f"{100 * total_c / total_e:.1f} %" if total_e else "–",
            ]
        )
        tag = re.sub(r"[^0-9a-z]+", "-", recipe.lower()).strip("-") if len(recipes) > 1 else ""
        stem = f"fig5-{'+'.join(sources)}-{target}" + (f"-{tag}" if tag else "")
        rel = figure(stem, fig5_chart(name, bins))
        lines += [f"### {name} (seeds {', '.join(map(str, seeds))})", ""]
        lines += md_lines(["teacher confidence", "teacher errors", "corrected", "share"], rows)
        lines += ["", f"![Fig. 5 {name}]({rel})", ""]
    if not found:
        lines += ["No single-source TS result has Fig. 5 counts (`fig5`).", ""]
    return lines


def decoders_section(groups: Dict[GroupKey, Group]) -> List[str]:
    """F1 with both decoders, for the results that stored both (``scores_by_decode``)."""
    recipes = recipes_of(groups)
    rows = []
    for key in ordered_keys(groups):
        setting, system, sources, target, recipe = key
        g = groups[key]
        seeds = [s for s in g.seeds if "scores_by_decode" in g.runs[s]]
        if not seeds:
            continue
        cells = []
        for decode in ("argmax", "viterbi"):
            values = [100 * float(g.runs[s]["scores_by_decode"][decode]["ents_f"]) for s in seeds]
            cells.append(format_cell(values))
        label = recipe_label(system, recipe, recipes)
        rows.append([label, setting, "+".join(sources), target, *cells])
    if not rows:
        return []
    return [
        "## Both decoders",
        "",
        "The same stored probabilities decoded per token (argmax, the paper's; stray `I-` "
        "repaired as conlleval does) and with the BIO-constrained Viterbi decoder "
        "(`decode = viterbi`), for the results that hold both.",
        "",
        *md_lines(["system", "setting", "sources", "target", "argmax", "viterbi"], rows),
        "",
    ]
