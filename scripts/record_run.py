"""Run one project workflow and record it as a committed result file (docs/perf/NAME.json).

    python scripts/record_run.py all docs/perf/all-en-es.json \
        --scores MT=metrics/en-es/MT.json --scores TS=metrics/en-es/TS.json [-- --vars.x 1]

The workflow's steps run one by one (``spacy project run STEP``, as the workflow runs
them), so the file holds each step's seconds beside the command, the date, the commit,
the wall time, the peak memory, the machine, project.yml's vars and every score file
the workflow wrote, so that README's table and docs/ read their numbers from it
(scripts/readme_table.py) instead of from ignored folders.
"""

import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import srsly
import typer

ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict:
    """The machine a run used: CPU model and cores, memory, GPU (or null), versions."""
    cpu = platform.processor()
    flags = ""
    if Path("/proc/cpuinfo").exists():
        info = Path("/proc/cpuinfo").read_text()
        cpu = next((ln.split(":", 1)[1].strip() for ln in info.splitlines()
                    if ln.startswith("model name")), cpu)  # fmt: skip
        flags = next((ln for ln in info.splitlines() if ln.startswith("flags")), "")
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "avx512_bf16": "avx512_bf16" in flags.split(),
        "amx_bf16": "amx_bf16" in flags.split(),
        "memory_gib": round(pages / 2**30, 1),
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def tskd_env() -> dict:
    """The plugin's environment switches (SPACY_TSKD_CPU_BF16=0: float32 on this CPU)."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("SPACY_TSKD_")}


def ran_bf16(record: dict) -> bool:
    """Whether a recorded run's encoder ran in bfloat16: ``auto`` on a CPU with
    avx512_bf16, not turned off; records without "env" predate mixed_precision."""
    env = record.get("env")
    return (
        env is not None
        and record["machine"].get("avx512_bf16", False)
        and env.get("SPACY_TSKD_CPU_BF16") != "0"
    )


def write_result(output: Path, record: dict) -> None:
    """Write a result file atomically (a temporary file, then a rename)."""
    tmp = output.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf8")
    tmp.replace(output)


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    dirty = " + uncommitted changes" if git("status", "--porcelain", "--", "spacy_tskd",
                                            "configs", "project.yml").strip() else ""  # fmt: skip
    return git("rev-parse", "--short", "HEAD").strip() + dirty


def run_unless_done(args: List[str], done: Path) -> float:
    """Run a command unless ``done`` exists; its wall seconds (0 when skipped). The
    resumable measurements (scripts/precision_choice.py, loss_choice.py) are chains of these."""
    if done.exists():
        return 0.0
    typer.echo("$ " + " ".join(args[2:]), err=True)
    start = time.perf_counter()
    subprocess.run(args, check=True)
    return time.perf_counter() - start


def project_vars(extra: List[str]) -> dict:
    """project.yml's vars as written (unresolved), with EXTRA's ``--vars.x v`` applied."""
    from weasel.util import parse_config_overrides

    values = dict(srsly.read_yaml(ROOT / "project.yml")["vars"])
    for key, value in parse_config_overrides(extra).items():
        values[key.removeprefix("vars.")] = value
    return values


def record_run(*, workflow: str, output: Path, scores: List[str], extra: List[str]) -> dict:
    """Run ``spacy project run WORKFLOW . EXTRA`` in the project root; write OUTPUT."""
    command = ["spacy", "project", "run", workflow, ".", *extra]
    # the workflow's commands one by one, as weasel runs them, to time each step
    steps = srsly.read_yaml(ROOT / "project.yml")["workflows"].get(workflow, [workflow])
    seconds = {}
    start = time.time()
    for step in steps:
        step_start = time.time()
        proc = subprocess.run(["spacy", "project", "run", step, ".", *extra], cwd=ROOT)
        seconds[step] = round(time.time() - step_start, 1)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(command)} failed at {step} (exit {proc.returncode}); "
                     "nothing recorded")  # fmt: skip
    wall = time.time() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB -> GiB
    record = {
        "command": " ".join(command),
        "env": tskd_env(),
        "date": datetime.date.today().isoformat(),
        "code": git_commit(),
        "wall_seconds": round(wall),
        "wall_note": "every step of the workflow that was not already done, in one start",
        "step_seconds": seconds,
        "peak_rss_gib": round(peak, 2),
        "machine": machine(),
        "vars": project_vars(extra),
        "scores": {},
    }
    for item in scores:
        name, _, path = item.partition("=")
        if not path:
            sys.exit(f"--scores {item!r}: write NAME=PATH, e.g. TS=metrics/en-es/TS.json")
        record["scores"][name] = json.loads((ROOT / path).read_text(encoding="utf8"))
    write_result(output, record)
    return record


def main(
    workflow: str = typer.Argument(..., help="The project.yml workflow to run."),
    output: Path = typer.Argument(..., help="The result file to write (docs/perf/NAME.json)."),
    scores: List[str] = typer.Option([], "--scores", help="NAME=PATH of a score file."),
    extra: List[str] = typer.Argument(None, help="After --: options for spacy project run."),
) -> None:
    record = record_run(workflow=workflow, output=output, scores=scores, extra=extra or [])
    typer.echo(f"{output}: {record['wall_seconds']} s, {sorted(record['scores'])}")


if __name__ == "__main__":
    typer.run(main)
