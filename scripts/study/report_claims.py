"""The report's verdicts: one line per claim of the paper, read from the result files."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .report_format import cell_group, mean_sd, recipes_of
from .results import TARGETS, Group, GroupKey

# (claim, better (setting, system), worse (setting, system)): the paper finds the first
# above the second on every target (Wu et al. 2020, Tables 1-4)
CLAIMS: Tuple[Tuple[str, Tuple[str, str], Tuple[str, str]], ...] = (
    ("Single source: the student beats direct model transfer", ("single", "TS"), ("single", "MT")),
    ("Single source: soft labels beat hard labels (TS vs HL)", ("single", "TS"), ("single", "HL")),
    ("Multi-source, uniform α: the student beats the ensemble", ("multi", "TS-avg"), ("multi", "MT-avg")),
    ("Multi-source, sim α: the student beats the ensemble", ("multi", "TS-sim"), ("multi", "MT-sim")),
    ("Multi-source: learned similarity beats uniform α (TS-sim vs TS-avg)", ("multi", "TS-sim"), ("multi", "TS-avg")),
    ("Multi-source students beat the single-source one (TS-sim vs TS)", ("multi", "TS-sim"), ("single", "TS")),
)  # fmt: skip


def _mean(groups: Dict[GroupKey, Group], which: Tuple[str, str], target: str, recipe: str):
    group = cell_group(groups, which[0], which[1], target, recipe)
    return None if group is None else mean_sd(group.values())[0]


def claims_section(groups: Dict[GroupKey, Group]) -> List[str]:
    """``## The paper's claims``: per claim, the F1 difference on each target and whether
    it holds on all of them, for the most recent teacher recipe."""
    recipes = recipes_of(groups)
    recipe: Optional[str] = recipes[0] if recipes else None
    lines = [
        "## The paper's claims on this encoder",
        "",
        "Each line: the claim, the difference in F1 (points) on "
        + " / ".join(TARGETS)
        + f" for the teacher recipe `{recipe}`, and the verdict.",
        "",
    ]
    for claim, better, worse in CLAIMS:
        diffs = []
        for target in TARGETS:
            a, b = (_mean(groups, w, target, recipe) for w in (better, worse))
            diffs.append(None if a is None or b is None else a - b)
        cells = " / ".join("missing" if d is None else f"{d:+.2f}" for d in diffs)
        known = [d for d in diffs if d is not None]
        if not known:
            verdict = "no results"
        else:
            held = sum(d > 0 for d in known)
            verdict = "holds" if held == len(TARGETS) else f"holds on {held} of {len(known)}"
        lines.append(f"* {claim}: {cells} — **{verdict}**")
    return lines + [""]
