"""Benchmarks: ``python -m scripts.bench distill`` and ``bench annotate``.

* :func:`scripts.bench.distill.bench_distill` times the project's distillation
  step against a reference loop written like the paper's original code.
* :func:`scripts.bench.annotate.bench_annotate` times teacher inference and
  compares it with a FLOP-bound estimate.

Both return a JSON-serialisable dict; :func:`write_json` stores it atomically.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any, Dict

from spacy_tskd.util import PathLike, atomic_write_text


def machine_info() -> Dict[str, Any]:
    """The setting a timing depends on: torch version and threads, CPU model, Python."""
    import torch

    return {
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def set_threads(threads: int) -> None:
    """Set torch's intra-op threads; 0 keeps torch's default."""
    if threads < 0:
        raise ValueError(f"threads must be 0 (torch's default) or positive, got {threads}.")
    if threads:
        import torch

        torch.set_num_threads(threads)


def write_json(path: PathLike, results: Dict[str, Any]) -> None:
    """Write benchmark results to ``path`` as JSON, atomically."""
    atomic_write_text(path, json.dumps(results, indent=2, ensure_ascii=False) + "\n")


__all__ = ["cpu_model", "machine_info", "set_threads", "write_json"]
