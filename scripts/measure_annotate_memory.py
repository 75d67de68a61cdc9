"""Peak memory and wall time of streaming annotation for growing corpora.

For each size N given, writes a plain-text file of N sentences (the sentences of
--source repeated, or synthetic ones), runs ``annotate`` on it in a fresh
subprocess and reports that run's peak RSS (``getrusage(RUSAGE_CHILDREN)
.ru_maxrss`` of a wrapper process whose only child is the run) and wall time.
With streaming, the peak RSS should not grow with N (one shard in memory).

    python scripts/measure_annotate_memory.py training/teacher-en/model-last \\
        --sizes 100000 200000 --source corpus/es/train.spacy --lang es \\
        --shard-size 10000 --workdir /tmp/annotate-memory --output metrics/annotate_memory.json
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

RUN_ONE = """
import json, sys
from spacy_tskd.distill.annotate import annotate
kwargs = json.loads(sys.argv[1])
info = annotate(progress=False, **kwargs)
print("RESULT " + json.dumps(info))
"""

WORDS = (
    "el la de que y en un una los las se del por con para es al lo como más pero sus "
    "le ya o fue este ha sí porque esta son entre cuando muy sin sobre también me hasta "
    "hay donde quien desde todo nos durante todos uno les ni contra otros ese eso ante"
).split()
NAMES = "Madrid Barcelona García López Telefónica Santander Pérez Sevilla Iberia Valencia".split()


def source_sentences(source: Optional[Path]) -> List[str]:
    """Sentences to repeat: a DocBin's docs, a text file's lines, or none (synthetic)."""
    if source is None:
        return []
    if source.suffix == ".spacy":
        import spacy
        from spacy.tokens import DocBin

        vocab = spacy.blank("xx").vocab
        return [d.text for d in DocBin().from_disk(source).get_docs(vocab) if d.text.strip()]
    return [line.strip() for line in source.read_text(encoding="utf8").splitlines() if line.strip()]


def sentences(n: int, pool: List[str], seed: int = 0) -> Iterator[str]:
    """``n`` sentences: ``pool`` cycled, or synthetic sentences of 5 to 40 tokens."""
    rng = random.Random(seed)
    for i in range(n):
        if pool:
            yield pool[i % len(pool)]
        else:
            length = rng.randint(5, 40)
            yield (
                " ".join(
                    rng.choice(NAMES) if rng.random() < 0.1 else rng.choice(WORDS)
                    for _ in range(length)
                )
                + " ."
            )


def write_corpus(path: Path, n: int, pool: List[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf8") as f:
        for sent in sentences(n, pool):
            f.write(sent + "\n")
    tmp.replace(path)


def run_one(kwargs: Dict) -> Dict:
    """In a wrapper process: run the annotation as its only child; peak RSS and wall time."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RUN_ONE, json.dumps(kwargs)], capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"annotate failed (exit {proc.returncode})")
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    info = json.loads(line[len("RESULT ") :])
    rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {**info, "peak_rss_mib": round(rss_kib / 1024, 1), "wall_seconds": round(wall, 2)}


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("teacher", type=Path, help="Saved teacher pipeline directory.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100000, 200000])
    parser.add_argument("--source", type=Path, default=None, help="DocBin or text to repeat.")
    parser.add_argument("--lang", default=None, help="Tokenizer language (default: teacher's).")
    parser.add_argument("--shard-size", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--workdir", type=Path, default=Path("training/annotate_memory"))
    parser.add_argument("--output", type=Path, default=None, help="JSON results file.")
    parser.add_argument("--run-one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one is not None:  # wrapper mode: one measured run
        print("MEASURED " + json.dumps(run_one(json.loads(args.run_one))))
        return

    pool = source_sentences(args.source)
    rows = []
    for n in args.sizes:
        corpus = args.workdir / f"input-{n}.txt"
        out_dir = args.workdir / f"shards-{n}"
        write_corpus(corpus, n, pool)
        if out_dir.exists():
            shutil.rmtree(out_dir)  # measure a full run, not a resume
        kwargs = {
            "teacher_path": str(args.teacher),
            "input_path": str(corpus),
            "output_dir": str(out_dir),
            "lang": args.lang,
            "shard_size": args.shard_size,
            "batch_size": args.batch_size,
            "gpu_id": args.gpu_id,
        }
        wrapper = subprocess.run(
            [sys.executable, __file__, str(args.teacher), "--run-one", json.dumps(kwargs)],
            capture_output=True,
            text=True,
        )
        if wrapper.returncode != 0:
            sys.stderr.write(wrapper.stdout + wrapper.stderr)
            raise SystemExit(f"Measuring size {n} failed.")
        line = [x for x in wrapper.stdout.splitlines() if x.startswith("MEASURED ")][-1]
        result = json.loads(line[len("MEASURED ") :])
        rows.append(
            {
                "sentences": n,
                "input_bytes": corpus.stat().st_size,
                "shards": result["n_shards"],
                "tokens": result["n_tokens"],
                "peak_rss_mib": result["peak_rss_mib"],
                "wall_seconds": result["wall_seconds"],
                "annotate_seconds": result["seconds"],
                "docs_per_second": round(n / max(result["seconds"], 1e-9), 1),
            }
        )
        print(f"size {n}: peak RSS {result['peak_rss_mib']} MiB, {result['wall_seconds']} s")

    header = ["sentences", "shards", "tokens", "peak_rss_mib", "wall_seconds", "docs_per_second"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[h]) for h in header) + " |")
    if len(rows) > 1:
        growth = rows[-1]["peak_rss_mib"] - rows[0]["peak_rss_mib"]
        print(
            f"peak RSS growth from {rows[0]['sentences']} to {rows[-1]['sentences']} "
            f"sentences: {growth:+.1f} MiB"
        )
    if args.output is not None:
        from spacy_tskd.util import atomic_write_text

        report = {
            "teacher": str(args.teacher),
            "source": None if args.source is None else str(args.source),
            "lang": args.lang,
            "shard_size": args.shard_size,
            "batch_size": args.batch_size,
            "rows": rows,
        }
        atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")
        print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
