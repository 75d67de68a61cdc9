"""Which nearest-neighbour library for `denoise`: faiss (exact, HNSW) against hnswlib.

Token vectors of a teacher (its tskd_ner encoder, as `denoise` computes them) for the
docs of an annotation directory; every token queries its k nearest neighbours (cosine)
in each index; recall@k against the exact search, build and search time, one process.

    python scripts/bench_knn.py training/teacher-en/model-last training/probs/en-es \
        --k 50 500 --output docs/perf/bench_knn.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def token_vectors(model: Path, annotations: Path) -> np.ndarray:
    from spacy_tskd.distill.corpus import TeacherCorpus
    from spacy_tskd.distill.teacher import load_teacher

    corpus = TeacherCorpus([annotations])
    nlp, pipe, _, _ = load_teacher(teacher_path=model)
    encoder = pipe.model.get_ref("encoder")
    out = []
    for index in range(corpus.n_shards):
        docs, _ = corpus.load(index, nlp.vocab)
        docs = sorted((d for d in docs if len(d)), key=len)
        for b in range(0, len(docs), 64):
            out.extend(encoder.ops.to_numpy(v) for v in encoder.predict(docs[b : b + 64]))
    x = np.ascontiguousarray(np.concatenate(out), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def run(name, build, search, x, k, exact_ids):
    start = time.perf_counter()
    index = build(x)
    built = time.perf_counter() - start
    start = time.perf_counter()
    ids = search(index, x, k)
    searched = time.perf_counter() - start
    recall = None
    if exact_ids is not None:
        hits = [len(set(a) & set(b)) for a, b in zip(ids, exact_ids)]
        recall = float(np.sum(hits) / exact_ids.size)
    row = {"library": name, "k": k, "build_s": round(built, 2), "search_s": round(searched, 2),
           "recall_at_k": recall}  # fmt: skip
    print(json.dumps(row))
    return row, ids


def main() -> None:
    import faiss
    import hnswlib

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("annotations", type=Path)
    parser.add_argument("--k", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    x = token_vectors(args.model, args.annotations)
    print(f"{len(x)} token vectors of dim {x.shape[1]} in {time.perf_counter() - start:.1f} s")
    dim, rows = x.shape[1], []

    def flat(v):
        index = faiss.IndexFlatIP(dim)
        index.add(v)
        return index

    def faiss_hnsw(v):
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.add(v)
        return index

    def hnsw_build(v):
        index = hnswlib.Index(space="ip", dim=dim)
        index.init_index(max_elements=len(v), ef_construction=80, M=32)
        index.add_items(v)
        return index

    for k in args.k:

        def faiss_search(index, v, k=k):
            if hasattr(index, "hnsw"):
                index.hnsw.efSearch = max(64, 2 * k)
            return index.search(v, k)[1]

        def hnsw_search(index, v, k=k):
            index.set_ef(max(64, 2 * k))
            return index.knn_query(v, k=k)[0]

        row, exact = run("faiss IndexFlatIP (exact)", flat, faiss_search, x, k, None)
        rows.append(row)
        rows.append(run("faiss IndexHNSWFlat M=32", faiss_hnsw, faiss_search, x, k, exact)[0])
        rows.append(run("hnswlib M=32", hnsw_build, hnsw_search, x, k, exact)[0])
    if args.output is not None:
        from scripts.bench import machine_info
        from spacy_tskd.util import atomic_write_text

        report = {"machine": machine_info(), "n_vectors": len(x), "dim": dim,
                  "model": str(args.model), "annotations": str(args.annotations), "rows": rows}  # fmt: skip
        atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
