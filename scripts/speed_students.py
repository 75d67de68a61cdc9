"""nlp.pipe words/s of saved pipelines on the same docs: one process, default batch
sizes, the best of N passes after a warm-up (docs/performance.md, CNN student).

usage: python scripts/speed_students.py TEST.spacy OUT.json PIPELINE... [--passes N]
       [--cpu-matmul numpy|blis]   (the tskd_ner setting to load them with; default: as saved)
"""

import argparse
import json
import platform
import time
from pathlib import Path

import spacy
from spacy.tokens import Doc, DocBin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("output")
    parser.add_argument("pipelines", nargs="+")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--cpu-matmul", choices=["numpy", "blis"], default=None)
    args = parser.parse_args()
    config = (
        {"components": {"tskd_ner": {"cpu_matmul": args.cpu_matmul}}} if args.cpu_matmul else {}
    )
    rows = []
    for path in args.pipelines:
        nlp = spacy.load(path, config=config)
        words = [[t.text for t in d] for d in DocBin().from_disk(args.data).get_docs(nlp.vocab)]
        n_words = sum(len(w) for w in words)
        list(nlp.pipe(Doc(nlp.vocab, words=w) for w in words[:64]))  # warm-up
        times = []
        for _ in range(args.passes):
            docs = [Doc(nlp.vocab, words=w) for w in words]
            start = time.perf_counter()
            for _ in nlp.pipe(docs):
                pass
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "pipeline": path,
                "cpu_matmul": nlp.config["components"]["tskd_ner"].get("cpu_matmul"),
                "n_words": n_words,
                "seconds": times,
                "words_per_second": n_words / min(times),
            }
        )
        print(f"{path}: {n_words / min(times):,.0f} words/s (best of {args.passes})")
    out = {"data": args.data, "rows": rows, "machine": platform.processor() or platform.machine()}
    Path(args.output).write_text(json.dumps(out, indent=1) + "\n", encoding="utf8")


if __name__ == "__main__":
    main()
