"""scripts/record_run.py: the vars a recorded run used."""

import srsly

from scripts.record_run import ROOT, project_vars


def test_project_vars_apply_the_runs_overrides():
    written = srsly.read_yaml(ROOT / "project.yml")["vars"]
    values = project_vars(["--vars.seed", "2", "--vars.student_lr", "1e-4"])
    assert values["seed"] == 2 and values["student_lr"] == 1e-4
    assert values["target_lang"] == written["target_lang"]
    assert project_vars([]) == written
