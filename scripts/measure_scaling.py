"""Annotation throughput and memory: one process against a local Ray cluster.

Writes a plain-text corpus of N sentences (--source's sentences cycled), then runs the
``annotate`` command on it, each run a fresh subprocess into a fresh output directory:

* ``single``: the one-process command (torch/BLAS use every core);
* ``ray-A``: ``--ray local --ray-actors A --ray-cpus C`` for each A given.

While a run goes, every process under it is polled (``/proc/PID/status``: ``VmHWM``, the
process's peak resident memory), so the report holds the peak RSS of the driver, of each
Ray actor (processes whose command line names the actor class) and of Ray's own
processes. Finally the Ray outputs are checked against the one-process output (same
docs, same float16 probabilities).

    python scripts/measure_scaling.py training/full/cnn/cnn-base/model-last \\
        --source training/reproduce-core2/corpus/es/unlabeled.spacy --lang es \\
        --sents 100000 --actors 2 --output docs/perf/scaling_cnn_100k.json

Linux only (``/proc``). Nothing is downloaded; the corpus is written under --workdir and
is not meant to be committed (it repeats the source's sentences).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure_annotate_memory import source_sentences, write_corpus  # noqa: E402

ACTOR_MARKERS = ("ShardAnnotator", "MapWorker")


def _children(pid: int) -> List[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: List[int] = []
    for tid in tasks:
        try:
            out += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            pass
    return out


def _hwm_mib(pid: int) -> Optional[float]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


class TreePeaks(threading.Thread):
    """Polls the process tree under ``root``: the last peak RSS seen of every process."""

    def __init__(self, root: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.every, self.stop = root, every, threading.Event()
        self.peaks: Dict[int, float] = {}
        self.names: Dict[int, str] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            todo, seen = [self.root], set()
            while todo:
                pid = todo.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                hwm = _hwm_mib(pid)
                if hwm is not None:
                    self.peaks[pid] = max(hwm, self.peaks.get(pid, 0.0))
                    name = _cmdline(pid)
                    if name:  # an actor renames itself after it starts
                        self.names[pid] = name
                todo += _children(pid)
            time.sleep(self.every)

    def summary(self) -> Dict[str, object]:
        actors = [p for p in self.peaks if any(m in self.names.get(p, "") for m in ACTOR_MARKERS)]
        others = [p for p in self.peaks if p != self.root and p not in actors]
        return {
            "driver_peak_rss_mib": round(self.peaks.get(self.root, 0.0), 1),
            "actor_peak_rss_mib": sorted(round(self.peaks[p], 1) for p in actors),
            "ray_system_processes": len(others),
            "ray_system_peak_rss_sum_mib": round(sum(self.peaks[p] for p in others), 1),
            "processes_seen": len(self.peaks),
        }


def run_annotate(name: str, args: List[str], out_dir: Path) -> Dict[str, object]:
    """One ``annotate`` run in a fresh subprocess, its process tree polled."""
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a full run, not a resume
    cmd = [sys.executable, "-m", "spacy_tskd", "annotate", *args, str(out_dir)]
    print(f"[{name}] {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    poller = TreePeaks(proc.pid)
    poller.start()
    log = proc.communicate()[0]
    wall = time.perf_counter() - start
    poller.stop.set()
    poller.join()
    if proc.returncode != 0:
        sys.stderr.write(log[-4000:])
        raise SystemExit(f"[{name}] annotate failed (exit {proc.returncode})")
    index = json.loads((out_dir / "index.json").read_text())
    n_docs = int(index.get("n_docs", 0))
    row = {
        "run": name,
        "command": "python -m spacy_tskd annotate " + " ".join(args) + " OUT",
        "wall_seconds": round(wall, 1),
        "sentences": n_docs,
        "sentences_per_second": round(n_docs / wall, 1),
        "output_bytes": sum(f.stat().st_size for f in out_dir.iterdir()),
        **poller.summary(),
    }
    print(f"[{name}] {json.dumps(row)}", flush=True)
    return row


def same_output(a: Path, b: Path) -> bool:
    """Same docs and bit-identical probabilities in two annotation directories."""
    import numpy as np
    import spacy

    from spacy_tskd.distill.annotations import get_doc_probs, load_shard_docs, read_index

    vocab = spacy.blank("xx").vocab
    ia, ib = read_index(a), read_index(b)
    if len(ia["shards"]) != len(ib["shards"]):
        return False
    for sa, sb in zip(ia["shards"], ib["shards"]):
        da, db = load_shard_docs(a, sa, vocab), load_shard_docs(b, sb, vocab)
        if [d.text for d in da] != [d.text for d in db]:
            return False
        for x, y in zip(da, db):
            if not np.array_equal(get_doc_probs(x)[1], get_doc_probs(y)[1]):
                return False
    return True


def machine(gpu: bool) -> str:
    """CPU model and count (and the GPU's name when one is used)."""
    model = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    out = f"{model}, {os.cpu_count()} CPUs"
    if gpu:
        import torch

        out += f", {torch.cuda.get_device_name(0)}"
    return out


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("teacher", type=Path, help="Saved teacher pipeline directory.")
    parser.add_argument("--source", type=Path, required=True, help="DocBin or text to cycle.")
    parser.add_argument("--lang", required=True, help="Tokenizer language of the text.")
    parser.add_argument("--sents", type=int, default=100000)
    parser.add_argument("--shard-size", type=int, default=5000)
    parser.add_argument(
        "--actors", type=int, nargs="*", default=[2], help="Ray actor counts (none: no Ray)."
    )
    parser.add_argument("--ray-cpus", type=float, default=1.0)
    parser.add_argument("--gpu", action="store_true", help="GPU 0 alone; one GPU per actor.")
    parser.add_argument("--skip-single", action="store_true", help="Only the Ray runs.")
    parser.add_argument("--workdir", type=Path, default=Path("training/scaling"))
    parser.add_argument("--output", type=Path, default=None, help="JSON results file.")
    args = parser.parse_args(argv)

    corpus = args.workdir / f"input-{args.sents}.txt"
    if not corpus.exists():
        write_corpus(corpus, args.sents, source_sentences(args.source))
    n_words = sum(len(line.split()) for line in corpus.open(encoding="utf8"))
    common = [str(args.teacher), str(corpus), "--lang", args.lang,
              "--shard-size", str(args.shard_size)]  # fmt: skip
    rows = []
    if not args.skip_single:
        single = [*common, "--gpu-id", "0"] if args.gpu else common
        rows.append(run_annotate("single", single, args.workdir / "out-single"))
    for n in args.actors:
        ray_args = [
            *common,
            "--ray",
            "local",
            "--ray-actors",
            str(n),
            "--ray-cpus",
            str(args.ray_cpus),
        ]
        ray_args += ["--ray-gpus", "1"] if args.gpu else []
        row = run_annotate(f"ray-{n}", ray_args, args.workdir / f"out-ray-{n}")
        if not args.skip_single:
            row["same_as_single"] = same_output(
                args.workdir / "out-single", args.workdir / f"out-ray-{n}"
            )
        rows.append(row)
    for row in rows:
        row["words_per_second"] = round(n_words / row["wall_seconds"], 1)
    report = {
        "command": "python scripts/measure_scaling.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "precision_env": os.environ.get("SPACY_TSKD_CPU_BF16"),
        "teacher": str(args.teacher),
        "source": str(args.source),
        "sentences": args.sents,
        "words": n_words,
        "shard_size": args.shard_size,
        "machine": machine(args.gpu),
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
    }
    print(json.dumps(report, indent=2))
    if args.output is not None:
        from spacy_tskd.util import atomic_write_text

        atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")
        print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
