"""The study report's figures (matplotlib, the ``project`` extra): PNG bytes."""

from __future__ import annotations

import io
from typing import Dict, Optional, Sequence, Tuple

from .results import TARGETS


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def bar_chart(
    title: str,
    labels: Sequence[str],
    bars: Sequence[Tuple[str, str, float, Optional[float]]],
    missing: Sequence[str],
) -> bytes:
    """Grouped bars: one group per target, one bar per row; sd as error bars."""
    shown = [label for label in labels if any(b[0] == label for b in bars)]
    fig = _new_figure(8.5, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(len(shown), 1)
    for i, label in enumerate(shown):
        xs, ys, errs = [], [], []
        for row, target, mean, sd in bars:
            if row == label:
                xs.append(TARGETS.index(target) - 0.4 + width * (i + 0.5))
                ys.append(mean)
                errs.append(sd or 0.0)
        ax.bar(xs, ys, width, yerr=errs, capsize=3, label=label)
    ax.set_xticks(range(len(TARGETS)), TARGETS)
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    note = "mean over seeds, error bars: sample sd (none for one seed)"
    if missing:
        note += "; missing, not drawn: " + ", ".join(missing)
    fig.text(0.01, 0.01, note, fontsize=7, wrap=True)
    fig.subplots_adjust(bottom=0.18, right=0.76)
    return _png(fig)


def fig5_chart(name: str, bins: Sequence[Dict]) -> bytes:
    """Share of teacher errors the student corrects per confidence bin, counts annotated."""
    fig = _new_figure(7.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(len(bins)))
    shares = [
        100 * b["corrected"] / b["teacher_errors"] if b["teacher_errors"] else 0.0 for b in bins
    ]
    ax.bar(xs, shares, 0.8, color="tab:blue")
    for x, b, share in zip(xs, bins, shares):
        text = f"{b['corrected']}/{b['teacher_errors']}" if b["teacher_errors"] else "no errors"
        ax.text(x, share + 1.5, text, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(xs, [f"{b['lo']:.1f}–{b['hi']:.1f}" for b in bins], fontsize=7)
    ax.set_xlabel("teacher confidence (max probability)")
    ax.set_ylabel("teacher errors corrected by the student (%)")
    ax.set_ylim(0, 110)
    ax.set_title(f"Fig. 5, {name}: corrected / teacher errors", fontsize=10)
    fig.subplots_adjust(bottom=0.15)
    return _png(fig)
