"""The shipped Prometheus alert rules are valid and watch metrics the importer exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from importer import metrics

RULES = Path(__file__).resolve().parent.parent / "config" / "alerts.yml"
SUFFIXES = ("", "_total", "_created", "_bucket", "_sum", "_count")


def exposed_names() -> set[str]:
    return {family.name + suffix for family in metrics.REGISTRY.collect() for suffix in SUFFIXES}


def test_every_rule_watches_a_metric_the_importer_exposes() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} >= {
        "ImporterFeedLate",
        "ImporterFileFailed",
        "ImporterBacklogGrowing",
    }
    for rule in rules:
        assert rule["annotations"]["summary"]
        for name in re.findall(r"\bimporter_[a-z_]+", rule["expr"]):
            assert name in exposed_names(), f"{rule['alert']}: {name} is not a metric"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules() -> None:
    checked = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout
