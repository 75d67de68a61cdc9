"""Fig. 5 binning (``correction_bins``) and the results report (``write_report``, ``report``).

Every expected count below was worked out by hand.
"""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest

from scripts.study.analysis import correction_bins, merge_bins
from scripts.study.report import PAPER_MBERT, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = ["O", "B-PER", "I-PER", "B-LOC"]


def _row(label: str, p: float) -> list:
    """A probability row whose argmax is ``label`` with probability ``p``."""
    rest = (1 - p) / (len(LABELS) - 1)
    return [p if lab == label else rest for lab in LABELS]


# ---------------------------------------------------------------- correction_bins

# doc 0:     gold     teacher (argmax, p)   student
#  t0        B-PER    B-PER 0.95            B-PER    teacher right: not counted
#  t1        I-PER    O     0.30            I-PER    error, p = 0.3 -> [0.3, 0.4), corrected
#  t2        O        B-LOC 1.00            O        error, p = 1.0 -> [0.9, 1.0], corrected
#  t3        B-LOC    O     0.55            O        error, p = 0.55 -> [0.5, 0.6), not corrected
# doc 1:
#  t0        B-LOC    B-PER 0.29            B-PER    error, p = 0.29 -> [0.2, 0.3), not corrected
#  t1        O        B-PER 1.00            B-PER    error, p = 1.0 -> [0.9, 1.0], not corrected
#  t2        O        O     0.60            B-PER    teacher right: not counted
GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O", "O"]]
PROBS = [
    np.array([_row("B-PER", 0.95), _row("O", 0.3), _row("B-LOC", 1.0), _row("O", 0.55)]),
    np.array([_row("B-PER", 0.29), _row("B-PER", 1.0), _row("O", 0.6)]),
]
STUDENT = [["B-PER", "I-PER", "O", "O"], ["B-PER", "B-PER", "B-PER"]]


def test_correction_bins_hand_counted():
    bins = correction_bins(gold=GOLD, teacher_probs=PROBS, labels=LABELS, student=STUDENT)
    assert len(bins) == 10
    assert [(b["lo"], b["hi"]) for b in bins] == [(i / 10, (i + 1) / 10) for i in range(10)]
    errors = {round(b["lo"], 1): (b["teacher_errors"], b["corrected"]) for b in bins}
    expected = {lo / 10: (0, 0) for lo in range(10)}
    expected.update({0.2: (1, 0), 0.3: (1, 1), 0.5: (1, 0), 0.9: (2, 1)})
    assert errors == expected
    assert sum(b["teacher_errors"] for b in bins) == 5


def test_correction_bins_float16_and_width():
    probs16 = [p.astype("float16") for p in PROBS]
    bins = correction_bins(
        gold=GOLD, teacher_probs=probs16, labels=LABELS, student=STUDENT, width=0.5
    )
    # [0, 0.5): p = 0.3 (corrected), 0.29 ; [0.5, 1.0]: 1.0 (corrected), 0.55, 1.0
    assert [(b["lo"], b["hi"], b["teacher_errors"], b["corrected"]) for b in bins] == [
        (0.0, 0.5, 2, 1),
        (0.5, 1.0, 3, 1),
    ]
    with pytest.raises(ValueError, match="whole number"):
        correction_bins(gold=GOLD, teacher_probs=PROBS, labels=LABELS, student=STUDENT, width=0.3)


def test_correction_bins_errors():
    with pytest.raises(ValueError, match="gold has 2 docs, teacher_probs 1 and student 2"):
        correction_bins(gold=GOLD, teacher_probs=PROBS[:1], labels=LABELS, student=STUDENT)
    with pytest.raises(
        ValueError, match="Doc 1: gold has 3 tokens, teacher_probs 3 rows and student 2"
    ):
        correction_bins(
            gold=GOLD, teacher_probs=PROBS, labels=LABELS, student=[STUDENT[0], ["O", "O"]]
        )
    with pytest.raises(ValueError, match=r"Doc 0: teacher_probs has shape \(4, 3\)"):
        correction_bins(
            gold=GOLD, teacher_probs=[PROBS[0][:, :3], PROBS[1]], labels=LABELS, student=STUDENT
        )
    with pytest.raises(ValueError, match="gold label 'B-ORG' is not in labels"):
        correction_bins(
            gold=[GOLD[0], ["B-ORG", "O", "O"]], teacher_probs=PROBS, labels=LABELS, student=STUDENT
        )


def test_merge_bins_sums_and_checks_edges():
    bins = correction_bins(gold=GOLD, teacher_probs=PROBS, labels=LABELS, student=STUDENT)
    merged = merge_bins([bins, bins])
    assert [b["teacher_errors"] for b in merged] == [2 * b["teacher_errors"] for b in bins]
    other = correction_bins(
        gold=GOLD, teacher_probs=PROBS, labels=LABELS, student=STUDENT, width=0.5
    )
    with pytest.raises(ValueError, match="different edges"):
        merge_bins([bins, other])


# ---------------------------------------------------------------- report

TS_ES = [0.66, 0.665, 0.672]  # three seeds of single-source TS on es


def _result(setting, system, target, seed, f, *, sources=None, fig5=None, steps=None):
    if sources is None:
        sources = (
            ["en"] if setting == "single" else [x for x in ("de", "en", "es", "nl") if x != target]
        )
    data = {
        "format": "spacy-tskd-result/1",
        "setting": setting,
        "system": system,
        "sources": sources,
        "target": target,
        "seed": seed,
        "scores": {
            "ents_f": f,
            "ents_p": f - 0.01,
            "ents_r": f + 0.01,
            "ents_per_type": {
                "PER": {"p": 0.9, "r": 0.9, "f": 0.9},
                "LOC": {"p": 0.7, "r": 0.7, "f": f},
            },
        },
        "encoder": {"name": "multilingual-e5-small", "sha256": "ab" * 32},
        "config_sha256": "cd" * 32,
        "wall_seconds": 100.0,
        "hardware": {"device": "cpu", "cpu": "test", "threads": 2, "gpu": None},
        "created": "2026-01-01T00:00:00Z",
        "spacy_tskd_version": "0.1.0",
        "settings": {},
    }
    if fig5 is not None:
        data["fig5"] = fig5
    if steps is not None:
        data["steps"] = steps
    return data


def _write(folder, name, data):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(data), encoding="utf8")


@pytest.fixture
def results(tmp_path):
    d = tmp_path / "results"
    bins = correction_bins(gold=GOLD, teacher_probs=PROBS, labels=LABELS, student=STUDENT)
    for seed, f in enumerate(TS_ES):
        steps = {
            "convert es train -> unlabeled": None,  # made before: not timed by this run
            f"teacher en seed{seed}": 1500.0 + seed,
            f"student single-TS-en-es-seed{seed}": 700.0,
        }
        data = _result("single", "TS", "es", seed, f, fig5=bins, steps=steps)
        _write(d / "single", f"ts-es-{seed}.json", data)
    for target, f in (("es", 0.62), ("nl", 0.67), ("de", 0.58)):
        _write(d / "single", f"mt-{target}.json", _result("single", "MT", target, 0, f))
    _write(d / "multi", "ts-sim-de.json", _result("multi", "TS-sim", "de", 0, 0.6))
    _write(d, "settings.json", {"data_dir": "x"})  # not a result: skipped with a warning
    return d


def _section(text, title):
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_report_tables(results, tmp_path):
    out = tmp_path / "docs" / "results.md"
    with pytest.warns(UserWarning, match="settings.json: not a result file"):
        text = write_report(results_dir=results, output=out, command="make-it --now")
    assert out.read_text(encoding="utf8") == text
    assert text.index("make-it --now") < text.index("## ")
    assert "5 result files" not in text and "7 result files" in text
    single = _section(text, "## Single-source transfer")
    lines = [line for line in single.splitlines() if line.startswith("|")]
    assert lines[0] == "| system | es | nl | de | avg | paper (mBERT): es / nl / de |"
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| MT", "| TS"]
    # MT: one seed per target, all three present -> avg of the three
    mt = lines[2].split(" | ")
    assert mt[1:4] == ["62.00 ± – (1)", "67.00 ± – (1)", "58.00 ± – (1)"]
    assert mt[4] == f"{statistics.fmean([62.0, 67.0, 58.0]):.2f}"
    # TS: three seeds on es, nl and de missing -> no avg
    ts = lines[3].split(" | ")
    values = [100 * f for f in TS_ES]
    assert ts[1] == f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f} (3)"
    assert ts[1] == "66.57 ± 0.60 (3)"
    assert ts[2:5] == ["missing", "missing", "missing"]
    paper = PAPER_MBERT.get(("single", "TS"))
    if paper:
        assert ts[5].rstrip(" |") == " / ".join(f"{paper[t]:.2f}" for t in ("es", "nl", "de"))
    assert mt[5].rstrip(" |") == "not available offline"
    # multi-source: row order as in the paper's layout, TS-sim on de only
    multi = _section(text, "## Multi-source transfer")
    rows = [line.split(" | ") for line in multi.splitlines() if line.startswith("| ")][1:]
    assert [r[0] for r in rows] == ["| MT-avg", "| MT-sim", "| TS-avg", "| TS-sim"]
    assert rows[3][1:5] == ["missing", "missing", "60.00 ± – (1)", "missing"]
    assert _section(text, "## Similarity variants").count("| TS-") == 4
    abl = _section(text, "## Ablations")
    assert abl.index("| HL (single)") < abl.index("| TS (single)") < abl.index("| MT-avg (multi)")
    # Fig. 5 table summed over the three seeds
    fig5 = _section(text, "## Fig. 5")
    assert "| [0.3, 0.4) | 3 | 3 | 100.0 % |" in fig5
    assert "| [0.9, 1.0] | 6 | 3 | 50.0 % |" in fig5
    assert "| all | 15 | 6 | 40.0 % |" in fig5
    # the recipe found in the results' settings, then the deviations from the paper
    recipe = _section(text, "## Recipe")
    assert "source-language (English) dev data only" in recipe
    rows = [line for line in recipe.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| teacher_sents | target_sents |")
    assert rows[1].startswith("| – | – |") and "s0" in rows[1]  # settings: {}
    assert "**Encoder**" in _section(text, "## Deviations from the paper")


def test_report_source_weights(results, tmp_path):
    sim = _result("multi", "MT-sim", "es", 0, 0.64)
    sim["alpha"] = {"nl": 0.5, "de": 0.25, "en": 0.25}
    _write(results / "multi", "mt-sim-es.json", sim)
    avg = _result("multi", "MT-avg", "es", 0, 0.64)
    avg["alpha"] = {"de": 1 / 3, "en": 1 / 3, "nl": 1 / 3}
    _write(results / "multi", "mt-avg-es.json", avg)
    with pytest.warns(UserWarning):
        text = write_report(results_dir=results, output=tmp_path / "r.md", command="x")
    rows = [line for line in _section(text, "## Source weights").splitlines() if "| " in line]
    # uniform avg rows are left out; TS-sim de (fixture) has no alpha
    assert rows[1:] == ["| es | MT-sim | 0 | de 0.250, en 0.250, nl 0.500 |"]


def test_report_plots(results, tmp_path):
    out = tmp_path / "docs" / "results.md"
    plots = tmp_path / "plots"
    with pytest.warns(UserWarning):
        text = write_report(results_dir=results, output=out, plots_dir=plots)
    assert text.splitlines()[5].startswith("python -m scripts.study report ")
    pngs = sorted(p.name for p in plots.glob("*.png"))
    assert pngs == [
        "results-ablations.png",
        "results-fig5-en-es.png",
        "results-multi.png",
        "results-similarity.png",
        "results-single.png",
    ]
    for name in pngs:
        assert (plots / name).read_bytes().startswith(PNG_SIGNATURE)
        assert f"](../plots/{name})" in text
    assert "Left out of the chart (missing): TS nl, TS de." in text


@pytest.mark.filterwarnings("ignore:Skipping")
def test_report_corrupt_json_names_file(results, tmp_path):
    bad = results / "single" / "broken.json"
    bad.write_text('{"format": "spacy-tskd-result/1", ', encoding="utf8")
    with pytest.raises(ValueError, match="broken.json is not valid JSON"):
        write_report(results_dir=results, output=tmp_path / "r.md")
    assert not (tmp_path / "r.md").exists()


def test_report_bad_and_duplicate_results(tmp_path):
    d = tmp_path / "res"
    _write(d, "a.json", _result("single", "TS", "es", 0, 0.5))
    _write(d, "b.json", _result("single", "TS", "es", 0, 0.6))
    with pytest.raises(ValueError, match="Two results for TS .*seed 0.*a.json.*b.json"):
        write_report(results_dir=d, output=tmp_path / "r.md")
    (d / "b.json").unlink()
    _write(d, "c.json", _result("single", "TS", "nl", 0, 66.0))
    with pytest.raises(ValueError, match=r"c.json: 'scores.ents_f' must be a fraction"):
        write_report(results_dir=d, output=tmp_path / "r.md")
    with pytest.raises(FileNotFoundError):
        write_report(results_dir=tmp_path / "nope", output=tmp_path / "r.md")


@pytest.mark.filterwarnings("ignore:Skipping")
def test_report_cli(results, tmp_path):
    from typer.testing import CliRunner

    from scripts.study.__main__ import app

    out = tmp_path / "docs" / "results.md"
    result = CliRunner().invoke(app, ["report", str(results), "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf8")
    assert f"python -m scripts.study report {results} --output {out}" in text
    assert (out.parent / "results-single.png").read_bytes().startswith(PNG_SIGNATURE)
    args = ["report", str(results), "--output", str(out), "--made-by", "spacy project run x"]
    assert CliRunner().invoke(app, args).exit_code == 0
    top = out.read_text(encoding="utf8").split("## ")[0]
    assert top.index("spacy project run x") < top.index("python -m scripts.study report")
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope"), "--output", str(out)])
    assert result.exit_code == 1
    assert "Results directory not found" in result.output


def test_report_recipes_are_rows_of_their_own(results, tmp_path):
    # a later run with another teacher recipe, in another folder: never averaged in
    later = tmp_path / "results-later"
    for target, f in (("es", 0.70), ("nl", 0.74)):
        data = _result("single", "MT", target, 0, f)
        data["settings"] = {"teacher_epochs": 3, "teacher_lr": 0.0002}
        data["created"] = "2026-02-01T00:00:00Z"
        data["scores_by_decode"] = {"argmax": {"ents_f": f}, "viterbi": {"ents_f": f + 0.01}}
        # the later study trained its own teacher en seed0 (1,200 s for es; nl: a
        # second run of the step, 1,300 s); the fixture's teacher of that name took 1,500 s
        data["steps"] = {"teacher en seed0": 1200.0 if target == "es" else 1300.0}
        _write(later, f"mt-{target}.json", data)
    with pytest.warns(UserWarning):
        text = write_report(results_dir=[later, results], output=tmp_path / "r.md", command="c")
    assert "9 result files read from `" in text
    single = _section(text, "## Single-source transfer")
    rows = [line.split(" | ") for line in single.splitlines() if line.startswith("| ")][1:]
    # the most recent recipe first; the fixture's results record no recipe
    assert [r[0] for r in rows] == [
        "| MT · teacher 3 ep, lr 2e-4",
        "| MT · recipe not recorded",
        "| TS · recipe not recorded",
    ]
    assert rows[0][1:4] == ["70.00 ± – (1)", "74.00 ± – (1)", "missing"]
    assert rows[1][1:4] == ["62.00 ± – (1)", "67.00 ± – (1)", "58.00 ± – (1)"]
    decoders = _section(text, "## Both decoders")
    assert "| MT · teacher 3 ep, lr 2e-4 | single | en | es | 70.00 ± – (1) | 71.00 ± – (1) |" in (
        decoders
    )
    assert "recipe not recorded" not in decoders  # those results hold one decoder only
    assert "| single | MT | en | es | teacher 3 ep, lr 2e-4 | 0 |" in text
