"""``experiment reproduce --ray ADDRESS``: the study's independent cells as Ray tasks.

The plan is :func:`.reproduce.run_reproduce`'s. Every shared step (a conversion, a
teacher, an annotation, a weights fit) becomes one Ray task, submitted once however
many cells need it and made to wait only for the steps whose outputs it reads (a
teacher for its conversions, an annotation for its teacher, a student for its
annotations and weights: :func:`depends_on`), so the teachers of different languages
train side by side; every cell (an experiment and seed: its student, prediction and
score) becomes a task that waits for its shared steps. Ray runs what is ready in
parallel on the cluster's resources; each task runs torch with as many threads as it
has CPUs (on a 2-core machine two 1-thread tasks train 1.26x faster than one 2-thread
process: docs/performance.md, section 6). Each step and each result is written atomically,
as in one process, so a rerun skips what is done; a cell that fails is reported with
its error while the others finish.

The study's output directory must be visible to every node at the same path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

from spacy_tskd.resumable import Step
from spacy_tskd.util import PathLike, atomic_write_text

from .reproduce import ReproduceSettings, _Study, plan_results
from .study_files import _StepLog
from .study_settings import check_settings, with_config_defaults


def step_inputs(value: Any) -> Iterator[Path]:
    """Every path a step's arguments name: ``Path`` values, strings (comma-separated
    lists of paths too, as in config overrides), inside mappings and sequences."""
    if isinstance(value, Path):
        yield value
    elif isinstance(value, str):
        yield from (Path(part) for part in value.split(",") if part)
    elif isinstance(value, dict):
        for item in value.values():
            yield from step_inputs(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from step_inputs(item)


def depends_on(step: Step, earlier: Step) -> bool:
    """Whether ``step`` reads what ``earlier`` writes: one of its arguments is
    ``earlier``'s output, or lies inside it. A step whose marker file is ``DONE`` or
    ``index.json`` (a teacher, an annotation) writes the folder that holds the marker;
    a step with an ``embedding_cache`` (a weights fit) writes that folder too, so the
    fits that share a cache run one after another and embed each text once."""
    outs = [earlier.path.parent if earlier.path.name in ("DONE", "index.json") else earlier.path]
    if earlier.kwargs.get("embedding_cache") is not None:
        outs.append(Path(earlier.kwargs["embedding_cache"]))
    return any(p == out or out in p.parents for out in outs for p in step_inputs(step.kwargs))


def _use_threads(cpus: float) -> None:
    if cpus >= 1:
        import torch

        torch.set_num_threads(int(cpus))


def _run_step(log_path: str, cpus: float, step: Step, *after: Any) -> float:
    """A shared step (a Ray task); ``after``: the tasks it waits for."""
    _use_threads(cpus)
    seconds = step.run()
    if seconds is not None:
        _StepLog(Path(log_path)).record(step.what, seconds, step.path)
    return seconds or 0.0


def _run_cell(
    out_dir: str, cpus: float, settings: ReproduceSettings, name: str, path: str, *after: Any
):
    """One result (a Ray task): its own steps, then the result file, atomically."""
    _use_threads(cpus)
    study = _Study(Path(out_dir), settings)
    exp = next(e for seed in settings.seeds for e in study.experiments(int(seed)) if e.name == name)
    result = study.compute(exp)
    atomic_write_text(Path(path), json.dumps(result, indent=2) + "\n")
    return result["scores"]["ents_f"]


def run_reproduce_on_ray(
    *,
    address: str,
    out_dir: PathLike,
    results_dir: PathLike,
    settings: ReproduceSettings,
    cpus_per_task: float = 1.0,
    gpus_per_task: float = 0.0,
) -> Dict[str, Any]:
    """Run (or resume) the study on a Ray cluster (``auto``, an address, or ``local``).

    RETURNS (Dict[str, Any]): ``done`` ({cell: F1}), ``skipped`` (cells whose result
        exists) and ``failed`` ({cell: error}).
    """
    try:
        import ray
    except ImportError:
        raise ImportError('The study on Ray needs Ray: pip install "spacy-tskd[ray]".') from None
    s = with_config_defaults(settings)
    check_settings(s)
    study = _Study(Path(out_dir), s)
    plan = plan_results(study, s, Path(results_dir))
    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address)
    resources = {"num_cpus": cpus_per_task, "num_gpus": gpus_per_task}
    step_task = ray.remote(**resources)(_run_step)
    cell_task = ray.remote(**resources)(_run_cell)
    log_path = str(Path(out_dir) / "steps.jsonl")
    steps: Dict[Path, Any] = {}
    cells: List[Any] = []
    skipped: List[str] = []
    for exp, path, status, _ in plan:
        if status == "ok":
            skipped.append(exp.name)
            continue
        for i, step in enumerate(exp.shared):
            if step.path not in steps:
                after = [steps[e.path] for e in exp.shared[:i] if depends_on(step, e)]
                steps[step.path] = step_task.remote(log_path, cpus_per_task, step, *after)
        shared = [steps[step.path] for step in exp.shared]
        cell = cell_task.remote(str(out_dir), cpus_per_task, s, exp.name, str(path), *shared)
        cells.append((exp.name, cell))
    done: Dict[str, float] = {}
    failed: Dict[str, str] = {}
    for name, ref in cells:
        try:
            done[name] = float(ray.get(ref))
            print(f"[done] result {name}: F1 {100 * done[name]:.2f}")
        except Exception as err:  # a RayTaskError carries the cell's (or a step's) error
            failed[name] = str(getattr(err, "cause", None) or err)
            print(f"[failed] result {name}: {failed[name]}")
    return {"done": done, "skipped": skipped, "failed": failed}


__all__ = ["run_reproduce_on_ray"]
