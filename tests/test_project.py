"""project.yml: the user's workflows are well-formed, resumable step by step, and small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
USER_WORKFLOWS = ("all", "rounds", "multi")


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


def test_user_workflows_stay_small(project):
    steps = {s for name in USER_WORKFLOWS for s in project["workflows"][name]}
    assert len(steps) <= 14, sorted(steps)
    text = (ROOT / "project.yml").read_text(encoding="utf8")
    user_part = text.split("  # ---- the paper's study (workflow `study`)", 1)[0]
    assert len(user_part.encode("utf8")) <= 15 * 1024  # 15 KB (issue 30)
    assert max(len(line) for line in text.splitlines()) <= 200


def test_study_commands_are_apart_from_the_users(project):
    user = {s for name in USER_WORKFLOWS for s in project["workflows"][name]}
    study = set(project["workflows"]["study"]) - {"encoder"}
    assert study and not study & user
    for name in study:
        for line in _commands(project)[name]["script"]:
            assert line.startswith("python -m scripts.study "), line


def test_every_dep_and_output_is_one_path(project):
    """confection 1.x joins a list item starting with ${vars.x} to the one before it."""
    for cmd in project["commands"]:
        for path in cmd.get("deps", []) + cmd.get("outputs", []):
            assert ", " not in path, (cmd["name"], path)


def test_user_workflows_resume_step_by_step(project):
    commands = _commands(project)
    for name in USER_WORKFLOWS:
        for step in project["workflows"][name]:
            cmd = commands[step]
            assert cmd.get("outputs"), f"{step} needs outputs to be skipped when done"
            if step != "encoder":
                assert cmd.get("deps"), f"{step} needs deps to rerun when they change"


def test_the_users_files_are_variables(project):
    v = project["vars"]
    convert = _commands(project)["convert"]
    deps = [str(Path(d)) for d in convert["deps"]]
    for key in ("source_train", "source_dev", "target_text", "target_test"):
        assert str(Path(v[key])) in deps, key
        assert any(line.startswith(f"python -m spacy_tskd convert {v[key]} ") for line in
                   convert["script"]), key  # fmt: skip


def test_all_reads_no_target_labels_for_training(project):
    commands = _commands(project)
    # the teacher annotates the unlabeled target text; the student reads those docs only
    (annotate,) = commands["annotate"]["script"]
    assert "unlabeled.spacy" in annotate and "test.spacy" not in annotate
    probs = annotate.split("unlabeled.spacy ", 1)[1].split()[0]
    (line,) = commands["student"]["script"]
    assert f"--paths.teacher_probs {probs} " in line
    assert "test.spacy" not in line and "/dev" not in line


def test_the_student_recipe_is_the_configs(project):
    """configs/student.cfg holds the recipe: the demos differ only by the documented
    ``vars.student_epochs`` (all three), ``vars.student_lr`` (all) and
    ``vars.small_student`` (multi)."""
    v = project["vars"]
    epochs = f"--distillation.max_epochs {v['student_epochs']}"
    rate = f"--distillation.optimizer.learn_rate.initial_rate {v['student_lr']}"
    for name in ("student", "multi-students", "rounds-distill"):
        (line,) = _commands(project)[name]["script"]
        assert epochs in line, name
        assert (v["small_student"] in line) == (name == "multi-students"), name
        assert (rate in line) == (name == "student"), name
        rest = line.replace(epochs, "").replace(v["small_student"], "").replace(rate, "")
        for key in ("max_epochs", "batch_size", "learn_rate", "distill_loss"):
            assert key not in rest, (name, key)
    defaults = (ROOT / "docs" / "defaults.md").read_text(encoding="utf8")
    for var in ("student_epochs", "student_lr", "small_student"):
        assert f"| `{var}` |" in defaults, var


def test_every_pipeline_speaks_its_language(project):
    """Teachers are pipelines of their source language, students of their target."""
    v = project["vars"]
    expected = {
        "teacher": v["source_lang"],
        "student": v["target_lang"],
        "rounds-distill": v["target_lang"],
        "multi-teachers": "{}",
        "multi-students": v["multi_target"],
    }
    commands = _commands(project)
    for name, lang in expected.items():
        (line,) = commands[name]["script"]
        assert f"--nlp.lang {lang}" in line, name


def test_each_runs_the_command_once_per_value(tmp_path):
    import subprocess
    import sys

    script = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    args = [sys.executable, str(ROOT / "scripts" / "each.py"), "en,de", "--"]
    args += ["python", "-c", script, str(tmp_path / "{}.txt"), "lang {}"]
    subprocess.run(args, check=True, capture_output=True)
    assert sorted(p.read_text() for p in tmp_path.iterdir()) == ["lang de", "lang en"]
    failing = subprocess.run(args[:4] + ["python", "-c", "raise SystemExit(3)"])
    assert failing.returncode == 3
    usage = subprocess.run(args[:3], capture_output=True, text=True)
    assert usage.returncode != 0 and "usage: python scripts/each.py" in usage.stderr


@pytest.mark.parametrize("script", ["readme_table.py", "perf_tables.py"])
def test_doc_tables_are_read_from_the_result_files(script):
    """README's results table and docs/performance.md's tables are what the scripts read
    from the committed files."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--check"],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_docs_stay_references():
    """docs/ show today's state: results and performance pages stay short."""
    sizes = {name: len((ROOT / "docs" / name).read_text(encoding="utf8").splitlines())
             for name in ("results.md", "performance.md")}  # fmt: skip
    assert sizes["results.md"] <= 300 and sizes["performance.md"] <= 250, sizes


def test_the_plugin_stays_small():
    # the installed package holds what users run; the study and benchmarks are scripts/
    sizes = {p: len(p.read_text(encoding="utf8").splitlines()) for p in (ROOT / "spacy_tskd").rglob("*.py")}  # fmt: skip
    assert sum(sizes.values()) <= 6850, f"spacy_tskd/ has {sum(sizes.values())} lines"
    assert not [p.name for p, n in sizes.items() if n > 400]


def test_every_file_a_step_reads_is_in_its_deps(project):
    """A step re-runs when what it reads changes: each path in a command of `all` and
    `rounds` is a dep or an output (or inside one), and no two steps share an output."""
    commands = _commands(project)
    steps = dict.fromkeys(project["workflows"]["all"] + project["workflows"]["rounds"])
    owners = {}
    for step in steps:
        cmd = commands[step]
        deps = [str(Path(d)) for d in cmd.get("deps", [])]
        outs = [str(Path(o)) for o in cmd.get("outputs", [])]
        for out in outs:
            assert owners.setdefault(out, step) == step, f"{step} and {owners[out]} write {out}"
        for line in cmd["script"]:
            for token in line.split()[3:]:
                if "/" not in token or token.startswith(("-", "python")) or "{}" in token:
                    continue
                path = str(Path(token))
                inside = [p for p in deps + outs if path == p or path.startswith(p + "/")
                          or p.startswith(path + "/")]  # fmt: skip
                assert inside, f"{step} reads {path}, which is not in its deps"


@pytest.mark.parametrize("doc", ["README.md", "docs/usage.md"])
def test_python_examples_name_real_functions_and_arguments(doc):
    """Every ``from spacy_tskd... import f`` of a doc's Python blocks exists, and every
    keyword its calls pass is one the function takes."""
    import ast
    import importlib
    import inspect
    import re

    text = (ROOT / doc).read_text(encoding="utf8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, doc
    for block in blocks:
        tree = ast.parse(block)
        funcs = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module.startswith("spacy_tskd"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{doc}: {node.module}.{alias.name}"
                    funcs[alias.asname or alias.name] = getattr(module, alias.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in funcs:
                params = inspect.signature(funcs[node.func.id]).parameters
                for kw in node.keywords:
                    assert kw.arg in params, f"{doc}: {node.func.id}({kw.arg}=...)"
