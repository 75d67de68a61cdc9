"""project.yml: the workflows a user runs are well-formed and resumable step by step."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def project():
    from weasel.util import load_project_config

    # interpolates every ${vars.x}: a command naming a missing variable fails here
    return load_project_config(ROOT)


def _commands(project):
    return {cmd["name"]: cmd for cmd in project["commands"]}


def test_every_workflow_step_is_a_command(project):
    commands = _commands(project)
    for name, steps in project["workflows"].items():
        missing = [s for s in steps if s not in commands]
        assert not missing, f"workflow {name} names unknown commands {missing}"


def test_multi_is_built_from_resumable_steps(project):
    commands = _commands(project)
    steps = project["workflows"]["multi"]
    stages = ["multi-convert", "multi-teacher-1", "multi-weights", "multi-annotate"]
    stages += ["multi-student-avg", "multi-student-sim", "multi-evaluate", "multi-table"]
    positions = [steps.index(s) for s in stages]
    assert positions == sorted(positions), "multi must run convert -> ... -> evaluate in order"
    for name in steps:
        if name in ("encoder", "multi-table"):
            continue
        cmd = commands[name]
        assert cmd.get("deps") and cmd.get("outputs"), f"{name} needs deps and outputs to resume"
    weights = commands["multi-weights"]
    assert {Path(o).name for o in weights["outputs"]} == {
        "es-sim.json",
        "es-cosine.json",
        "es-l2.json",
    }
    for method in ("sim", "cosine", "l2"):
        assert any(f"--method {method}" in line for line in weights["script"])
    # the students read the weights the weighting step wrote
    sim_student = commands["multi-student-sim"]
    assert "training/multi/weights/es-sim.json" in sim_student["deps"]


def test_defaults_are_one_decode_everywhere(project):
    decode = project["vars"]["decode"]
    for cmd in project["commands"]:
        if cmd["name"] == "reproduce-study":  # the study has its own, repro_decode
            assert f"--decode {project['vars']['repro_decode']}" in cmd["script"][0]
            continue
        for line in cmd["script"]:
            if " --decode " in line or "tskd_ner.decode" in line:
                assert line.split("decode ", 1)[1].split()[0] == decode, line


def test_all_reads_no_target_labels_for_training(project):
    commands = _commands(project)
    # the teacher annotates the unlabeled target text; the students read those docs only
    (annotate,) = commands["annotate"]["script"]
    assert "unlabeled.spacy" in annotate and "test.spacy" not in annotate
    probs = annotate.split("unlabeled.spacy ", 1)[1].split()[0]
    for name in ("student", "student-hl"):
        (line,) = commands[name]["script"]
        assert f"--paths.teacher_probs {probs} " in line
        assert "test.spacy" not in line and "/dev" not in line


def test_every_pipeline_speaks_its_language(project):
    """Teachers are pipelines of their source language, students of their target."""
    v = project["vars"]
    expected = {
        "teacher": v["source"],
        "student": v["target"],
        "student-hl": v["target"],
        "multi-teacher-1": v["multi_src1"],
        "multi-teacher-2": v["multi_src2"],
        "multi-teacher-3": v["multi_src3"],
        "multi-student-avg": v["multi_target"],
        "multi-student-sim": v["multi_target"],
    }
    commands = _commands(project)
    for name, lang in expected.items():
        (line,) = commands[name]["script"]
        assert f"--nlp.lang {lang}" in line, name
