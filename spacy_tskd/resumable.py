"""A resumable step: run a function unless the output it writes atomically exists.

The study (:mod:`spacy_tskd.experiments`) and the distillation rounds
(:mod:`spacy_tskd.distill.rounds`) are chains of such steps, so an interrupted run
resumes at the step it stopped in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional


def once(path: Path, what: str, step: Callable[..., object], **kwargs) -> Optional[float]:
    """Run ``step(**kwargs)`` unless ``path`` exists (each step writes ``path`` atomically).

    RETURNS (Optional[float]): The step's wall time in seconds, or None if it was skipped.
    """
    if path.exists():
        print(f"[skip] {what}: {path} exists")
        return None
    start = time.perf_counter()
    print(f"[run] {what}")
    step(**kwargs)
    if not path.exists():
        raise RuntimeError(f"Step '{what}' finished without writing {path}.")
    seconds = time.perf_counter() - start
    print(f"[done] {what} in {seconds:.1f} s")
    return seconds


@dataclass
class Step:
    """One resumable step: ``fn(**kwargs)`` writes ``path`` atomically; ``what`` names it."""

    path: Path
    what: str
    fn: Callable[..., object]
    kwargs: Dict[str, Any]

    def run(self) -> Optional[float]:
        """Run the step unless its output exists (see :func:`once`)."""
        return once(self.path, self.what, self.fn, **self.kwargs)


__all__ = ["Step", "once"]
