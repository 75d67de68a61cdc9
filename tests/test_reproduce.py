"""The paper-study runner on tiny synthetic languages and a tiny encoder."""

from __future__ import annotations

import json
import re
import shutil
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scripts.study.__main__ import app

from conftest import TRAIN_SENTS, write_conll

LANGS = ("en", "de", "es")
SCHEMA = {
    "format",
    "teachers",
    "setting",
    "system",
    "sources",
    "target",
    "seed",
    "scores",
    "encoder",
    "config_sha256",
    "wall_seconds",
    "steps",
    "hardware",
    "created",
    "spacy_tskd_version",
    "settings",
}


def _correction_bins_stand_in(*, gold, teacher_probs, labels, student, width=0.1):
    """Used only while spacy_tskd/experiments/analysis.py cannot be imported."""
    n = round(1 / width)
    bins = [{"lo": b / n, "hi": (b + 1) / n, "teacher_errors": 0, "corrected": 0} for b in range(n)]
    for g, p, s in zip(gold, teacher_probs, student):
        for j, row in enumerate(p):
            if labels[int(row.argmax())] != g[j]:
                b = min(int(row.max() * n), n - 1)
                bins[b]["teacher_errors"] += 1
                bins[b]["corrected"] += int(s[j] == g[j])
    return bins


@pytest.fixture(scope="module")
def study(tiny_encoder_dir, tmp_path_factory):
    """One single-source run (seed 0, target es), shared by the tests of this module."""
    tmp = tmp_path_factory.mktemp("reproduce")
    for lang in LANGS:
        (tmp / "data" / "conll" / lang).mkdir(parents=True)
        for split in ("train", "dev", "test"):
            write_conll(tmp / "data" / "conll" / lang / f"{split}.txt", TRAIN_SENTS * 2)
    with pytest.MonkeyPatch.context() as mp:
        try:
            import scripts.study.analysis  # noqa: F401
        except ImportError:
            stand_in = types.ModuleType("scripts.study.analysis")
            stand_in.correction_bins = _correction_bins_stand_in
            mp.setitem(sys.modules, "scripts.study.analysis", stand_in)
        base = [
            "reproduce",
            str(tmp / "out"),
            "--data-dir",
            str(tmp / "data"),
            "--encoder",
            str(tiny_encoder_dir),
            "--languages",
            ",".join(LANGS),
            "--targets",
            "es",
            "--seeds",
            "0",
            # the recipes the study ran with before they defaulted to the configs' values
            *("--teacher-epochs", "1", "--teacher-lr", "1e-4", "--student-epochs", "1"),
            *("--student-lr", "1e-4", "--student-batch", "8", "--decode", "argmax"),
        ]

        def run(*extra, results="results"):
            out = CliRunner().invoke(app, base + ["--results", str(tmp / results), *extra])
            return out

        first = run("--only", "single")
        assert first.exit_code == 0, first.output
        yield {"tmp": tmp, "run": run, "output": first.output}


def _result(tmp, name, results="results"):
    return json.loads((tmp / results / f"{name}.json").read_text(encoding="utf8"))


def _ran(output):
    return re.findall(r"^\[run\] result (\S+)$", output, flags=re.M)


def test_single_results_schema(study):
    tmp = study["tmp"]
    assert sorted(p.name for p in (tmp / "results").iterdir()) == [
        f"single-{system}-en-es-seed0.json" for system in ("HL", "MT", "TS")
    ]
    for system in ("MT", "HL", "TS"):
        data = _result(tmp, f"single-{system}-en-es-seed0")
        assert SCHEMA <= set(data), SCHEMA - set(data)
        assert data["format"] == "spacy-tskd-result/1"
        assert (data["setting"], data["system"], data["sources"], data["target"], data["seed"]) == (
            "single",
            system,
            ["en"],
            "es",
            0,
        )
        scores = data["scores"]
        assert set(scores) == {"ents_f", "ents_p", "ents_r", "ents_per_type"}
        assert all(0.0 <= scores[k] <= 1.0 for k in ("ents_f", "ents_p", "ents_r"))
        for row in scores["ents_per_type"].values():
            assert set(row) == {"p", "r", "f"} and all(0.0 <= v <= 1.0 for v in row.values())
        assert re.fullmatch(r"[0-9a-f]{64}", data["config_sha256"])
        (teacher,) = data["teachers"]
        index = json.loads(
            (tmp / "out" / "probs" / "seed0" / "en-es-test" / "index.json").read_text()
        )
        assert teacher == {"lang": "en", "weights_sha256": index["teacher"]["weights_sha256"]}
        assert re.fullmatch(r"[0-9a-f]{64}", data["encoder"]["sha256"])
        assert data["hardware"]["device"] == "cpu" and data["hardware"]["gpu"] is None
        assert data["hardware"]["threads"] >= 1 and data["hardware"]["cpu"]
        assert data["wall_seconds"] > 0.0
        steps = data["steps"]
        assert steps["teacher en seed0"] > 0 and steps[f"score single-{system}-en-es-seed0"] > 0
        assert data["settings"]["seeds"] == [0] and data["settings"]["only"] == "single"
        assert ("fig5" in data) == (system == "TS")
        if system != "MT":
            assert steps[f"student single-{system}-en-es-seed0"] > 0
            assert data["wall_seconds"] >= steps[f"student single-{system}-en-es-seed0"]
    fig5 = _result(tmp, "single-TS-en-es-seed0")["fig5"]
    assert [b["lo"] for b in fig5] == pytest.approx([i / 10 for i in range(10)])
    assert all(0 <= b["corrected"] <= b["teacher_errors"] for b in fig5)
    # every step that ran is in steps.jsonl
    logged = [json.loads(x)["step"] for x in (tmp / "out/steps.jsonl").read_text().splitlines()]
    assert "teacher en seed0" in logged and "student single-TS-en-es-seed0" in logged
    # MT, HL and TS share one hash only where their inputs agree
    shas = {s: _result(tmp, f"single-{s}-en-es-seed0")["config_sha256"] for s in ("MT", "HL", "TS")}
    assert len(set(shas.values())) == 3


def test_stored_probs_mt_equals_the_teacher_pipeline(study):
    import spacy
    from spacy.tokens import Doc, DocBin

    from scripts.study.stored_probs import load_stored_probs
    from spacy_tskd.data.bio import doc_to_bio
    from spacy_tskd.data.decode import decode_bio
    from spacy_tskd.evaluation.evaluate import evaluate

    tmp = study["tmp"]
    teacher = tmp / "out/teachers/en-seed0/model-last"
    test = tmp / "out/corpus/es/test.spacy"
    result = _result(tmp, "single-MT-en-es-seed0")
    assert result["decode"] == "argmax"  # as given
    for decode in ("argmax", "viterbi"):  # each stored score is the pipeline's own
        scored = evaluate(pipeline_path=teacher, data_path=test, decode=decode)
        assert result["scores_by_decode"][decode]["ents_f"] == pytest.approx(scored["ents_f"])
    direct = evaluate(pipeline_path=teacher, data_path=test, decode="argmax")
    stored = result["scores"]
    assert stored["ents_f"] == pytest.approx(direct["ents_f"])
    assert stored["ents_per_type"] == {
        t: {k: pytest.approx(v[k]) for k in ("p", "r", "f")}
        for t, v in direct["ents_per_type"].items()
    }
    # token by token: the stored argmax is the pipeline's own decoding
    nlp = spacy.load(teacher, config={"components": {"tskd_ner": {"decode": "argmax"}}})
    docs = [
        Doc(nlp.vocab, words=[t.text for t in d])
        for d in DocBin().from_disk(test).get_docs(nlp.vocab)
    ]
    probs, labels = load_stored_probs([tmp / "out/probs/seed0/en-es-test"], data_path=test)
    assert decode_bio(probs, labels, "argmax") == [doc_to_bio(d) for d in nlp.pipe(docs)]
    assert direct["n_pred"] > 0  # the comparison is not between two empty predictions


def test_skip_rerun_and_replace(study):
    tmp, run = study["tmp"], study["run"]
    # the same settings into a copy of the results: everything is skipped
    shutil.copytree(tmp / "results", tmp / "results2")
    again = run("--only", "single", results="results2")
    assert again.exit_code == 0, again.output
    assert "[run]" not in again.output and "[redo]" not in again.output
    assert again.output.count("[skip] result") == 3
    # one removed, one truncated, one from other settings: exactly these three rerun
    names = {s: f"single-{s}-en-es-seed0" for s in ("MT", "HL", "TS")}
    (tmp / "results2" / f"{names['HL']}.json").unlink()
    ts_path = tmp / "results2" / f"{names['TS']}.json"
    ts_path.write_text(ts_path.read_text()[:100])
    mt = _result(tmp, names["MT"], "results2")
    mt["config_sha256"] = "0" * 64
    (tmp / "results2" / f"{names['MT']}.json").write_text(json.dumps(mt))
    third = run("--only", "single", results="results2")
    assert third.exit_code == 0, third.output
    assert sorted(_ran(third.output)) == sorted(names.values())
    assert f"[redo] result {names['TS']}" in third.output and "not valid JSON" in third.output
    assert f"[redo] result {names['MT']}" in third.output and "other settings" in third.output
    assert "[run] teacher" not in third.output and "[run] student" not in third.output
    for name in names.values():
        fresh, first = _result(tmp, name, "results2"), _result(tmp, name)
        assert fresh["config_sha256"] == first["config_sha256"]
        assert fresh["scores"] == first["scores"]
    # other artifact settings in the same OUT_DIR are refused, naming the difference
    other = run("--only", "single", "--student-epochs", "2", results="results3")
    assert other.exit_code == 1
    assert "student_epochs 1 -> 2" in other.output and "study.json" in other.output


def test_multi_from_stored_probs(study):
    from scripts.study.stored_probs import evaluate_stored_probs

    tmp, run = study["tmp"], study["run"]
    result = run("--only", "multi", results="multi")
    assert result.exit_code == 0, result.output
    assert "[skip] teacher en seed0" in result.output  # shared with the single-source runs
    systems = ("MT-avg", "MT-sim", "TS-avg", "TS-sim", "TS-cosine", "TS-l2")
    for system in systems:
        data = _result(tmp, f"multi-{system}-de+en-es-seed0", "multi")
        assert SCHEMA <= set(data) and "fig5" not in data
        assert data["setting"] == "multi" and data["sources"] == ["de", "en"]
        assert 0.0 <= data["scores"]["ents_f"] <= 1.0
        assert list(data["alpha"]) == ["de", "en"]
        assert sum(data["alpha"].values()) == pytest.approx(1.0)
        if system.endswith("avg"):
            assert data["alpha"] == {"de": 0.5, "en": 0.5}
    sim = json.loads((tmp / "out/weights/es-sim-seed0.json").read_text(encoding="utf8"))
    for system in ("MT-sim", "TS-sim"):
        alpha = _result(tmp, f"multi-{system}-de+en-es-seed0", "multi")["alpha"]
        assert [alpha[src] for src in sim["sources"]] == pytest.approx(sim["alpha"])
    assert "alpha" not in _result(tmp, "single-MT-en-es-seed0")
    assert len(list((tmp / "multi").iterdir())) == len(systems)
    # sim is fitted per seed, cosine and l2 once per target
    assert sorted(p.name for p in (tmp / "out/weights").glob("*.json")) == [
        "es-cosine.json",
        "es-l2.json",
        "es-sim-seed0.json",
    ]
    test = tmp / "out/corpus/es/test.spacy"
    probs = [tmp / "out/probs/seed0" / f"{src}-es-test" for src in ("de", "en")]
    # a one-hot ensemble is that teacher's MT; uniform α is MT-avg
    one_hot = evaluate_stored_probs(probs_paths=probs, data_path=test, alpha=[0.0, 1.0])
    single = _result(tmp, "single-MT-en-es-seed0")["scores"]
    assert one_hot["ents_f"] == pytest.approx(single["ents_f"])
    en_only = evaluate_stored_probs(probs_paths=probs[1:], data_path=test)
    assert {k: one_hot[k] for k in ("n_pred", "n_correct")} == {
        k: en_only[k] for k in ("n_pred", "n_correct")
    }
    avg = evaluate_stored_probs(probs_paths=probs, data_path=test, alpha=[0.5, 0.5])
    assert avg["ents_f"] == pytest.approx(
        _result(tmp, "multi-MT-avg-de+en-es-seed0", "multi")["scores"]["ents_f"]
    )


def test_systems_select_part_of_the_study(study):
    tmp, run = study["tmp"], study["run"]
    result = run("--only", "single", "--systems", "MT", results="only-mt")
    assert result.exit_code == 0, result.output
    assert _ran(result.output) == ["single-MT-en-es-seed0"]
    assert "1 results selected" in result.output
    assert [p.name for p in (tmp / "only-mt").iterdir()] == ["single-MT-en-es-seed0.json"]


def test_unknown_system_is_refused(study):
    result = study["run"]("--systems", "TS,KD", results="bad-system")
    assert result.exit_code == 1
    assert "Unknown system(s) KD" in result.output
    assert "MT, TS, HL, MT-avg" in result.output


def test_result_hash_follows_the_weights_format():
    from scripts.study.reproduce import WEIGHTS_FORMAT
    from spacy_tskd.weighting.similarity import FORMAT_VERSION

    assert WEIGHTS_FORMAT == FORMAT_VERSION


def test_recipes_default_to_the_configs(tmp_path):
    """Unset recipe settings take the configs' values: the defaults live there only."""
    from spacy.util import load_config

    from scripts.study.study_settings import ReproduceSettings, with_config_defaults

    configs = Path(__file__).parent.parent / "configs"
    s = ReproduceSettings(
        teacher_config=str(configs / "teacher.cfg"),
        student_config=str(configs / "student.cfg"),
        student_lr=3e-5,
        student_epochs=None,
    )
    filled = with_config_defaults(s)
    teacher = load_config(configs / "teacher.cfg", interpolate=False)
    student = load_config(configs / "student.cfg", interpolate=False)
    assert filled.teacher_epochs == teacher["training"]["max_epochs"]
    assert filled.teacher_lr == teacher["training"]["optimizer"]["learn_rate"]["initial_rate"]
    assert filled.student_epochs == student["distillation"]["max_epochs"]
    assert filled.student_batch == student["distillation"]["batch_size"]
    assert filled.decode == student["components"]["tskd_ner"]["decode"]
    assert filled.student_lr == 3e-5  # given: kept
    paper = with_config_defaults(ReproduceSettings(student_config=s.student_config))
    assert (paper.student_epochs, paper.student_loss) == (1, "mse")  # the paper's student
    missing = ReproduceSettings(teacher_config=str(tmp_path / "none.cfg"))
    with pytest.raises(FileNotFoundError, match="none.cfg not found.*--teacher-epochs"):
        with_config_defaults(missing)


def test_results_md_is_the_report_of_the_committed_files(tmp_path, monkeypatch):
    """docs/results.md is regenerated from results/study and docs/perf/loss_choice.json
    alone, by the command at its top: every F1 in it comes from a committed file."""
    import shlex

    from scripts.study.report import write_report

    root = Path(__file__).parent.parent
    committed = (root / "docs" / "results.md").read_text(encoding="utf8")
    command = committed.split("```bash\n", 1)[1].split("\n```", 1)[0].splitlines()[-1]
    args = shlex.split(command)
    assert args[:4] == ["python", "-m", "scripts.study", "report"], command
    (tmp_path / "results").symlink_to(root / "results")
    (tmp_path / "docs" / "perf").mkdir(parents=True)
    shutil.copy(root / "docs" / "perf" / "loss_choice.json", tmp_path / "docs" / "perf")
    monkeypatch.chdir(tmp_path)
    option = dict(zip(args[5::2], args[6::2]))
    text = write_report(results_dir=args[4], output=option["--output"],
                        plots_dir=option["--plots-dir"], loss_choice=option["--loss-choice"])  # fmt: skip
    assert text == committed, "docs/results.md is stale: run the command at its top"
