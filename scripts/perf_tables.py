"""The tables of docs/performance.md and docs/defaults.md, written from docs/perf/.

    python scripts/perf_tables.py --write    # rewrite the tables between their markers
    python scripts/perf_tables.py --check    # exit 1 if a table differs from its files

Each table sits between ``<!-- perf:NAME -->`` and ``<!-- /perf -->``; NAME is a key of
TABLES below, which names the files the table reads. Ratios (speed-ups, shares of a
bound) are computed here from the files' values, never typed by hand.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path
from typing import Callable, Dict, List

import typer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file
from scripts.record_run import ran_bf16  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PERF = ROOT / "docs" / "perf"
DOCS = [ROOT / "docs" / "performance.md", ROOT / "docs" / "defaults.md"]


def _load(name: str) -> dict:
    return json.loads((PERF / f"{name}.json").read_text(encoding="utf8"))


def _md(head: List[str], rows: List[List[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _n(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def encoders() -> str:
    data = _load("bench_encoders_es")
    head = [
        "path",
        "seconds (timed steps)",
        "sentences/s",
        "words/s",
        "held-out MSE before / after",
    ]
    rows = []
    for name, p in data["paths"].items():
        mse = (f"{p['heldout_mse_before']:.6f} / {p['heldout_mse_after']:.6f}"
               if "heldout_mse_after" in p else "–")  # fmt: skip
        rows.append([name, _n(p["seconds"], 2), _n(p["sentences_per_second"], 1),
                     _n(p["words_per_second"]), mse])  # fmt: skip
    return _md(head, rows)


def distill() -> str:
    head = ["sample", "reference sent/s", "project sent/s", "speed-up",
            "padded pieces ref / project", "held-out MSE ref / project"]  # fmt: skip
    rows = []
    for path in sorted(PERF.glob("bench_distill_*.json")):
        d = _load(path.stem)
        ref, proj, check = d["reference"], d["project"], d["check"]
        rows.append([
            path.stem.rsplit("_", 1)[1], _n(ref["sentences_per_second"], 1),
            _n(proj["sentences_per_second"], 1), f"{d['speedup']:.2f}×",
            f"{_n(ref['padded_pieces'])} / {_n(proj['padded_pieces'])}",
            f"{check['final_loss_reference']:.6f} / {check['final_loss_project']:.6f}",
        ])  # fmt: skip
    return _md(head, rows)


def annotate() -> str:
    d = _load("bench_annotate")
    f, m = d["flops"], d["matmul"]
    head = ["sentences/s", "words/s", "pieces/s", "GFLOP/s (padded pieces)",
            "matmul bound GFLOP/s", "share of the bound"]  # fmt: skip
    row = [_n(d["sentences_per_second"], 1), _n(d["words_per_second"]),
           _n(d["pieces_per_second"]), _n(f["achieved_gflops"], 1), _n(m["peak_gflops"], 1),
           f"{100 * f['achieved_gflops'] / m['peak_gflops']:.0f} %"]  # fmt: skip
    return _md(head, [row])


def students() -> str:
    speed = {}
    for matmul in ("blis", "numpy"):
        for kind in ("ts", "cnn"):
            for row in _load(f"speed_{kind}_es_{matmul}")["rows"]:
                speed[(Path(row["pipeline"]).parent.name, matmul)] = row["words_per_second"]
    names = {"single-TS-en-es-seed0": ("transformer (configs/student.cfg)", "eval_ts_core2_es"),
             "cnn-base": ("CNN (configs/student_cnn.cfg)", "eval_cnn_base_es"),
             "cnn-vectors": ("CNN + the encoder's word vectors", "eval_cnn_vectors_es")}  # fmt: skip
    base = speed[("single-TS-en-es-seed0", "numpy")]
    head = ["student", "F1 (viterbi)", "words/s, blis", "words/s, numpy", "speed-up (numpy)"]
    rows = [[label, f"{100 * _load(scores)['ents_f']:.2f}", _n(speed[(key, 'blis')]),
             _n(speed[(key, "numpy")]), f"{speed[(key, 'numpy')] / base:.1f}×"]
            for key, (label, scores) in names.items()]  # fmt: skip
    return _md(head, rows)


def memory() -> str:
    rows = [[_n(r["sentences"]), str(r["shards"]), _n(r["tokens"]), f"{r['peak_rss_mib']:.1f} MiB",
             _n(r["wall_seconds"])] for r in _load("annotate_memory")["rows"]]  # fmt: skip
    return _md(["sentences", "shards", "tokens", "peak RSS", "wall s"], rows)


def knn() -> str:
    rows = []
    for r in _load("bench_knn")["rows"]:
        recall = "1 (reference)" if r["recall_at_k"] is None else f"{r['recall_at_k']:.3f}"
        rows.append([r["library"], str(r["k"]), f"{r['build_s']:.1f} s", f"{r['search_s']:.1f} s",
                     recall])  # fmt: skip
    return _md(["library / index", "k", "build", "search", "recall@k"], rows)


def precision_rows(results: dict) -> List[List[str]]:
    """Rows ``(what, fp32, bf16, speed-up)`` of a ``bench precision`` result."""
    prec, bare, up = results["precisions"], results["bare"], results["speedup_bf16"]
    rows = []
    for part, label in (("train_step", "training step, words/s"),
                        ("annotate", "annotation, words/s"), ("nlp_pipe", "nlp.pipe, words/s")):  # fmt: skip
        a, b = prec["fp32"][part], prec["bf16"][part]
        rows.append([label, f"{a['words_per_second']:,.0f}", f"{b['words_per_second']:,.0f}", f"{up[part]:.2f}x"])  # fmt: skip
    a, b = prec["fp32"]["train_step"], prec["bf16"]["train_step"]
    if "median_optimizer_ms" in a:
        rows.append(["training step: optimizer ms / step ms (median)",
                     f"{a['median_optimizer_ms']:.0f} / {a['median_step_ms']:.0f}",
                     f"{b['median_optimizer_ms']:.0f} / {b['median_step_ms']:.0f}",
                     f"{a['median_optimizer_ms'] / b['median_optimizer_ms']:.2f}x / {a['median_step_ms'] / b['median_step_ms']:.2f}x"])  # fmt: skip
    rows.append(["training step, GFLOP/s", f"{a['achieved_gflops']:.0f}", f"{b['achieved_gflops']:.0f}", ""])  # fmt: skip
    m = bare["matmul"]
    shape = "x".join(map(str, m["fp32"]["shape"]))
    rows.append([f"bare matmul {shape}, GFLOP/s", f"{m['fp32']['peak_gflops']:.0f}", f"{m['bf16']['peak_gflops']:.0f}", f"{up['bare_matmul']:.2f}x"])  # fmt: skip
    for part, label in (("annotate", "annotation"), ("nlp_pipe", "nlp.pipe")):
        a, b = prec["fp32"][part], prec["bf16"][part]
        if "hf_forward_seconds" in a:
            rows.append([f"{label}: s in the HF forward / the rest", f"{a['hf_forward_seconds']:.1f} / {a['rest_seconds']:.1f}",
                         f"{b['hf_forward_seconds']:.1f} / {b['rest_seconds']:.1f}",
                         f"{a['hf_forward_seconds'] / b['hf_forward_seconds']:.2f}x / {a['rest_seconds'] / b['rest_seconds']:.2f}x"])  # fmt: skip
    f = bare["hf_forward"]
    rows.append(["bare HF forward (annotation batches), s", f"{f['fp32']:.1f}", f"{f['bf16']:.1f}", f"{up['bare_hf_forward']:.2f}x"])  # fmt: skip
    return rows


def precision() -> str:
    """float32 against bfloat16 (``bench precision``), speed-ups computed here."""
    return _md(
        ["", "float32", "bfloat16", "bfloat16 / float32"], precision_rows(_load("bench_precision"))
    )


def precision_choice() -> str:
    data = _load("precision_choice")
    t, s = data["teachers"], data["students"]
    seeds = sorted({k.split("/")[1] for k in t})
    rows = [[f"teacher, English dev F1 ({seed})", f"{t['fp32/' + seed]['en_dev_f1']:.2f}",
             f"{t['bf16/' + seed]['en_dev_f1']:.2f}"] for seed in seeds]  # fmt: skip
    rows.append(["teacher, mean", f"{data['teacher_mean_fp32']:.2f}", f"{data['teacher_mean_bf16']:.2f}"])  # fmt: skip
    rows.append(["teacher, wall s (seed 0)", _n(t["fp32/seed0"]["wall_seconds"]), _n(t["bf16/seed0"]["wall_seconds"])])  # fmt: skip
    rows.append(["student on English text, English dev F1", f"{s['fp32']['en_dev_f1']:.2f}", f"{s['bf16']['en_dev_f1']:.2f}"])  # fmt: skip
    rows.append(["student, no-gold monitor (agreement)", f"{s['fp32']['monitor']['agreement']:.4f}", f"{s['bf16']['monitor']['agreement']:.4f}"])  # fmt: skip
    rows.append(["student, wall s", _n(s["fp32"]["wall_seconds"]), _n(s["bf16"]["wall_seconds"])])  # fmt: skip
    return _md(["", "float32", "bfloat16"], rows)


ALL_RUNS = {"float32": tuple(f"all-hard-en-es-fp32-seed{s}" for s in range(3)),
            "bfloat16 (auto)": tuple(f"all-hard-en-es-bf16-seed{s}" for s in range(3))}  # fmt: skip


def _all_runs() -> Dict[str, List[dict]]:
    return {name: [_load(f) for f in files if (PERF / f"{f}.json").exists()]
            for name, files in ALL_RUNS.items()}  # fmt: skip


def all_steps() -> str:
    """Seconds per workflow step (``step_seconds``, mean over the runs that record it)
    in each precision, and float32 / bfloat16."""
    runs = {name: [r["step_seconds"] for r in records if "step_seconds" in r]
            for name, records in _all_runs().items()}  # fmt: skip
    fp32, bf16 = runs["float32"], runs["bfloat16 (auto)"]
    rows = []
    for step in [*fp32[0], "total"]:
        a, b = (statistics.mean(sum(r.values()) if step == "total" else r[step] for r in x)
                for x in (fp32, bf16))  # fmt: skip
        rows.append([step, f"{a:.0f}", f"{b:.0f}", f"{a / b:.2f}×"])
    return _md([f"step (runs: {len(fp32)} + {len(bf16)})", "float32 s", "bfloat16 s",
                "speed-up"], rows)  # fmt: skip


def all_precision() -> str:
    """``all`` per precision and seed (project.yml ``seed``), then the means; speed-up
    against the float32 mean."""

    def f1(r, system):
        return 100 * r["scores"][system]["ents_f"]

    runs = _all_runs()
    base = statistics.mean(r["wall_seconds"] for r in runs["float32"])
    rows = []
    for name, records in runs.items():
        for r in records:
            seed = _seed(r["command"])
            rows.append([name, str(seed), r["code"], _n(r["wall_seconds"]),
                         f"{base / r['wall_seconds']:.2f}×", f"{f1(r, 'MT'):.2f}", f"{f1(r, 'TS'):.2f}"])  # fmt: skip
    for name, records in runs.items():
        wall = statistics.mean(r["wall_seconds"] for r in records)
        rows.append([f"**{name}, mean**", str(len(records)), "", _n(round(wall)), f"**{base / wall:.2f}×**",
                     f"{statistics.mean(f1(r, 'MT') for r in records):.2f}",
                     f"**{statistics.mean(f1(r, 'TS') for r in records):.2f}**"])  # fmt: skip
    return _md(["precision", "seed", "code", "wall s", "speed-up", "MT F1", "TS F1"], rows)


def profile() -> str:
    """Shares of py-spy samples per frame (scripts/profile_shares.py) of the student's
    and the teacher's training, in each precision."""
    runs = {f"{step}, {name}": _load(f"profile_{step}_{p}")
            for step in ("student", "teacher") for p, name in (("fp32", "float32"), ("bf16", "bfloat16"))}  # fmt: skip
    labels = [
        k for k in next(iter(runs.values()))["shares"] if any(r["shares"][k] for r in runs.values())
    ]
    rows = [[label.strip() if not label.startswith(" ") else f"&nbsp;&nbsp;{label.strip()}"]
            + [f"{100 * r['shares'][label]:.0f} %" for r in runs.values()] for label in labels]  # fmt: skip
    return _md(["share of samples", *runs], rows)


def demo_sizes() -> str:
    data = _load("demo_teacher_size")
    rows = [[_n(c["source_sents"]), f"{c['mean_f1']:.2f} ± {c['sd_f1']:.2f} ({len(c['runs'])})",
             " / ".join(f"{r['en_dev_f1']:.2f}" for r in c["runs"]), _n(c["mean_wall_seconds"])]
            for c in data["cells"].values()]  # fmt: skip
    return _md(["English sentences", "English dev F1, mean ± sd (seeds)", "per seed",
                "teacher wall s"], rows)  # fmt: skip


def _cpu(record: dict) -> str:
    """A run's CPU and the precision its encoder ran in (``auto``: bfloat16 where the CPU has it)."""
    m = record["machine"]
    kind = "AMX" if m.get("amx_bf16") else "avx512_bf16" if m.get("avx512_bf16") else "no AVX-512"
    return f"{m['cpu'].split(' Processor')[0].replace('(R)', '')} ({kind}), {'bfloat16' if ran_bf16(record) else 'float32'}"


def demo_runs() -> str:
    """``all`` per machine, student learning rate and seed (all-demo-en-es-*seed*.json),
    then the mean per machine and rate."""
    records = [_load(f.stem) for f in sorted(PERF.glob("all-demo-en-es-*seed*.json"))]
    rows, groups = [], {}
    for r in records:
        x = {k: 100 * v["ents_f"] for k, v in r["scores"].items()}
        # runs recorded before the `student_lr` var used configs/student.cfg's 1e-4
        lr = f"{float(r.get('vars', {}).get('student_lr', 1e-4)):.0e}".replace("e-0", "e-")
        groups.setdefault((_cpu(r), lr), []).append((r, x))
        rows.append([_cpu(r), lr, str(_seed(r["command"])), r["code"], _n(r["wall_seconds"]),
                     f"{x['MT']:.2f}", f"{x['TS']:.2f}", f"{x['TS'] - x['MT']:+.2f}"])  # fmt: skip
    for (cpu, lr), runs in ((k, g) for k, g in groups.items() if len(g) > 1):
        mean = {k: statistics.mean(x[k] for _, x in runs) for k in ("MT", "TS")}
        rows.append([f"**{cpu}, mean of {len(runs)}**", lr, "", "",
                     _n(statistics.mean(r["wall_seconds"] for r, _ in runs)), f"{mean['MT']:.2f}",
                     f"**{mean['TS']:.2f}**", f"{mean['TS'] - mean['MT']:+.2f}"])  # fmt: skip
    head = ["CPU, precision", "student lr", "seed", "code", "wall s", "MT F1", "TS F1", "TS − MT"]
    return _md(head, rows)


def loss_choice() -> str:
    return loss_choice_table(_load("loss_choice"))


def loss_choice_1ep() -> str:
    return loss_choice_table(_load("loss_choice_1ep"))


def student_schedule_1ep() -> str:
    return loss_choice_table(_load("student_schedule_1ep"), head="loss, batch, learning rate")


def loss_choice_table(data: dict, head: str = "loss") -> str:
    """English dev F1 of the student per loss and epoch, mean ± sd (n seeds), from a
    ``scripts/loss_choice.py`` result (docs/defaults.md and the study report show it)."""
    cells = data["cells"]
    losses = list(dict.fromkeys(c["loss"] for c in cells.values()))
    epochs = sorted({c["epochs"] for c in cells.values()})

    def cell(c):
        sd = "–" if c["sd_f1"] is None else f"{c['sd_f1']:.2f}"
        text = f"{c['mean_f1']:.2f} ± {sd} ({c['n']})"
        return f"**{text}**" if f"{c['loss']}/epoch{c['epochs']}" == data["best"] else text

    def wall(loss):
        return _n(round(statistics.mean(r["wall_seconds"] for r in data["runs"].values()
                                        if r["loss"] == loss)))  # fmt: skip

    rows = [[f"`{loss}`"] + [cell(cells[f"{loss}/epoch{e}"]) if f"{loss}/epoch{e}" in cells else "missing"
                             for e in epochs] + [wall(loss)] for loss in losses]  # fmt: skip
    rows.append(["teacher (MT)"] + [f"{data['teacher_en_dev_f1']:.2f}"] * len(epochs) + [""])
    per_run = f"wall s per run ({epochs[-1]} epoch{'s' if epochs[-1] > 1 else ''})"
    return _md([head] + [f"epoch {e}" for e in epochs] + [per_run], rows)


def _seed(command: str) -> int:
    """The ``--vars.seed`` of a recorded ``spacy project run`` (project.yml's default 0)."""
    match = re.search(r"--vars\.seed[ =](\d+)", command)
    return int(match.group(1)) if match else 0


TABLES: Dict[str, Callable[[], str]] = {
    "all_precision": all_precision, "all_steps": all_steps, "profile": profile, "demo_sizes": demo_sizes, "demo_runs": demo_runs, "loss_choice": loss_choice, "loss_choice_1ep": loss_choice_1ep, "student_schedule_1ep": student_schedule_1ep, "precision": precision, "precision_choice": precision_choice, "encoders": encoders, "distill": distill, "annotate": annotate, "students": students,
    "memory": memory, "knn": knn,
}  # fmt: skip
MARKER = re.compile(r"(<!-- perf:(\w+) -->\n)(.*?)(<!-- /perf -->)", re.S)


def render(text: str, doc: Path = DOCS[0]) -> str:
    """``text`` (of ``doc``) with every marked table rewritten from its files."""

    def table(match: re.Match) -> str:
        name = match.group(2)
        if name not in TABLES:
            raise KeyError(f"{doc}: unknown table {name!r}; known: {', '.join(TABLES)}")
        return f"{match.group(1)}{TABLES[name]()}\n{match.group(4)}"

    return MARKER.sub(table, text)


def main(
    write: bool = typer.Option(False, "--write", help="Rewrite the docs' tables."),
    check: bool = typer.Option(False, "--check", help="Exit 1 if a table is stale."),
) -> None:
    stale = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf8")
        new = render(text, doc)
        if new != text:
            stale.append(doc)
        if write:
            doc.write_text(new, encoding="utf8")
        if not (write or check):
            typer.echo(new)
    if check and stale:
        names = ", ".join(str(d.relative_to(ROOT)) for d in stale)
        typer.echo(f"{names} differ from docs/perf/: run python scripts/perf_tables.py --write")
        sys.exit(1)


if __name__ == "__main__":
    typer.run(main)
