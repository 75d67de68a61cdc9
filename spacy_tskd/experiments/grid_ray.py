"""``experiment reproduce --ray ADDRESS``: the study's independent cells as Ray tasks.

The plan is :func:`.reproduce.run_reproduce`'s. Every shared step (a conversion, a
teacher, an annotation, a weights fit) becomes one Ray task, submitted once however
many cells need it and made to wait for the steps before it in its cell (a teacher
before its annotation); every cell (an experiment and seed: its student, prediction
and score) becomes a task that waits for its shared steps. Ray runs what is ready in
parallel on the cluster's resources. Each step and each result is written atomically,
as in one process, so a rerun skips what is done; a cell that fails is reported with
its error while the others finish.

The study's output directory must be visible to every node at the same path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from ..resumable import Step
from ..util import PathLike, atomic_write_text
from .reproduce import ReproduceSettings, _Study, plan_results
from .study_files import _StepLog
from .study_settings import check_settings, with_config_defaults


def _run_step(log_path: str, step: Step, *after: Any) -> float:
    """A shared step (a Ray task); ``after``: the tasks it waits for."""
    seconds = step.run()
    if seconds is not None:
        _StepLog(Path(log_path)).record(step.what, seconds, step.path)
    return seconds or 0.0


def _run_cell(out_dir: str, settings: ReproduceSettings, name: str, path: str, *after: Any):
    """One result (a Ray task): its own steps, then the result file, atomically."""
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
        before: List[Any] = []
        for step in exp.shared:
            if step.path not in steps:
                steps[step.path] = step_task.remote(log_path, step, *before)
            before.append(steps[step.path])
        cells.append((exp.name, cell_task.remote(str(out_dir), s, exp.name, str(path), *before)))
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
