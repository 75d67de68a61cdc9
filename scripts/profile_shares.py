"""Where a command's time goes: py-spy samples of a running step, as shares per frame.

    python -m scripts.profile_shares docs/perf/profile_student_bf16.json --skip 30 \
        --seconds 60 -- python -m spacy_tskd distill configs/student.cfg ...

Starts the command, waits ``--skip`` seconds (start-up, loading), samples it with
py-spy for ``--seconds``, then stops it. A frame's share is the fraction of samples
whose stack holds it; FRAMES names the ones performance.md shows (a step's forward,
backward and optimizer update, and what inside them does not change with precision).
Needs ``pip install py-spy``.
"""

import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import List

import typer

from scripts.record_run import git_commit, machine, tskd_env, write_result

# label -> the start of a py-spy frame "function (file:line)"
FRAMES = {
    "forward": "TokenSoftmaxNER._step (spacy_tskd/pipeline/ner.py:194)",
    "backward": "TokenSoftmaxNER._step (spacy_tskd/pipeline/ner.py:196)",
    "optimizer update (shim.finish_update)": "PyTorchShim.finish_update (thinc/shims/pytorch.py",
    "  of it, thinc's Adam (NumPy)": "Optimizer.__call__ (thinc/optimizers.py",
    "dropout (torch)": "Dropout.forward (torch/nn/modules/dropout.py",
    "matrix products (nn.Linear)": "Linear.forward (torch/nn/modules/linear.py",
    "writing shards (DocBin)": "write_shard (spacy_tskd/distill/annotations.py",
}


def shares(raw: Path) -> dict:
    """Per FRAMES label, the share of samples whose stack holds that frame."""
    counts, total = Counter(), 0
    for line in raw.read_text(encoding="utf8").splitlines():
        stack, _, n = line.rpartition(" ")
        total += int(n)
        frames = stack.split(";")
        for label, prefix in FRAMES.items():
            if any(f.startswith(prefix) for f in frames):
                counts[label] += int(n)
    return {"samples": total, "shares": {k: round(counts[k] / total, 3) for k in FRAMES}}


def main(
    output: Path = typer.Argument(..., help="Result JSON (docs/perf/profile_*.json)."),
    command: List[str] = typer.Argument(..., help="After --: the command to profile."),
    skip: float = typer.Option(30.0, "--skip", help="Seconds before sampling starts."),
    seconds: int = typer.Option(60, "--seconds", help="Seconds of sampling."),
    rate: int = typer.Option(25, "--rate", help="Samples per second."),
) -> None:
    child = subprocess.Popen(command)
    try:
        time.sleep(skip)
        if child.poll() is not None:
            sys.exit(f"{command[0]} ended (exit {child.returncode}) before --skip {skip}")
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "profile.raw"
            subprocess.run(["py-spy", "record", "-p", str(child.pid), "-d", str(seconds),
                            "-r", str(rate), "-f", "raw", "-o", str(raw), "--nonblocking"],
                           check=True, capture_output=True)  # fmt: skip
            result = shares(raw)
    finally:
        child.terminate()
        child.wait()
    record = {"command": " ".join(["python -m scripts.profile_shares", *sys.argv[1:]]),
              "date": time.strftime("%Y-%m-%d"), "code": git_commit(), "machine": machine(),
              "env": tskd_env(),
              "skip_seconds": skip, "sampled_seconds": seconds, **result}  # fmt: skip
    write_result(output, record)
    typer.echo(json.dumps(result["shares"]))


if __name__ == "__main__":
    typer.run(main)
