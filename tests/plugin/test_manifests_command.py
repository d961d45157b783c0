"""``module-controller manifests`` renders the same install set as ``python -m
module_controller.manifests``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from module_controller import cli


def test_manifests_subcommand_writes_the_install_set(tmp_path: Path, capsys):
    assert cli.main(["manifests", "--namespace", "ops", "--image", "reg.example/mc:1",
                     "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written and all(name.endswith(".yaml") for name in written)
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "image: reg.example/mc:1" in text and "namespace: ops" in text
    # the same bytes as the module's own entry point
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-m", "module_controller.manifests", "--namespace", "ops",
                    "--image", "reg.example/mc:1", "--out", str(other)], check=True,
                   capture_output=True)
    assert {p.name: p.read_text() for p in other.iterdir()} == \
        {p.name: p.read_text() for p in tmp_path.iterdir() if p.is_file()}


def test_manifests_subcommand_to_stdout_and_listed_in_help(capsys):
    assert cli.main(["manifests", "--namespace", "ops", "--image", "img:2"]) == 0
    assert "kind: CustomResourceDefinition" in capsys.readouterr().out
    proc = subprocess.run([sys.executable, "-m", "module_controller.cli", "--help"],
                          capture_output=True, text=True, check=True)
    assert "manifests" in proc.stdout
