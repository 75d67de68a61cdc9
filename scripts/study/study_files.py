"""The study's bookkeeping: the step log (``steps.jsonl``), a result file's status,
and what every result records (hardware, time, version, config text hashes)."""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
from pathlib import Path
from typing import Any, Dict, Optional, Set, Tuple

from spacy_tskd.resumable import Step
from spacy_tskd.util import PathLike

FORMAT = "spacy-tskd-result/1"


class _StepLog:
    """Runs shared steps at most once per process and logs their wall times to a
    JSON-lines file (one ``{"step", "seconds", "output", "finished"}`` per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: Dict[str, float] = {}
        self.done: Set[Path] = set()
        self._newline = False
        if path.exists():
            text = path.read_text(encoding="utf8", errors="replace")
            self._newline = bool(text) and not text.endswith("\n")
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                    self.seconds[str(entry["step"])] = float(entry["seconds"])
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a line cut by an interrupted run

    def ensure(self, step: Step) -> None:
        """Run ``step`` unless its output exists; log its time if it ran."""
        if step.path in self.done:
            return
        seconds = step.run()
        if seconds is not None:
            self.record(step.what, seconds, step.path)
        self.done.add(step.path)

    def record(self, step: str, seconds: float, output: Optional[Path] = None) -> None:
        entry = {
            "step": step,
            "seconds": round(seconds, 3),
            "output": None if output is None else str(output),
            "finished": _now(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf8") as fh:
            fh.write(("\n" if self._newline else "") + json.dumps(entry) + "\n")
        self._newline = False
        self.seconds[step] = entry["seconds"]

    def get(self, step: str) -> Optional[float]:
        return self.seconds.get(step)


def _result_status(path: Path, config_sha256: str) -> Tuple[str, str]:
    """``("ok", "")``, ``("missing", "")`` or ``("redo", why)`` for a result file."""
    if not path.exists():
        return "missing", ""
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return "redo", f"{path} is not valid JSON ({err}); recomputing it"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return "redo", f"{path} is not a {FORMAT} result; recomputing it"
    scores = data.get("scores")
    if not isinstance(scores, dict) or not all(k in scores for k in ("ents_f", "ents_p", "ents_r")):
        return "redo", f"{path} has no scores; recomputing it"
    if data.get("config_sha256") != config_sha256:
        return "redo", (
            f"{path} was computed with other settings (config_sha256 "
            f"{str(data.get('config_sha256'))[:12]}, now {config_sha256[:12]}); recomputing it"
        )
    return "ok", ""


def _hardware(gpu_id: int) -> Dict[str, Any]:
    import torch

    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = None
    if gpu_id >= 0 and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(gpu_id)
    return {
        "device": "cpu" if gpu_id < 0 else f"cuda:{gpu_id}",
        "cpu": cpu or platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "gpu": gpu,
    }


def _read_text(path: PathLike, what: str) -> str:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"The {what} {path} does not exist: run from the project directory (configs/) "
            "or give the config's path."
        )
    return path.read_text(encoding="utf8")


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf8")).hexdigest()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _version() -> str:
    from spacy_tskd import __version__

    return __version__
