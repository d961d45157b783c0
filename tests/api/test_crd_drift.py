"""The checked-in crds/ must be exactly what the generator writes from the models."""

from __future__ import annotations

import subprocess
import sys

from api_cases import CRDS, REPO
from module_controller.api import crdgen


def test_checked_in_crds_match_the_models():
    problems = crdgen.stale_files(CRDS)
    assert not problems, (
        f"crds/ is out of date ({problems}); run `make crds` "
        "(python -m module_controller.api.crdgen crds) and commit the result")


def test_check_mode_of_the_cli(tmp_path):
    def check(directory) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "module_controller.api.crdgen", str(directory), "--check"],
            cwd=REPO, capture_output=True, text=True, timeout=60)

    assert check(CRDS).returncode == 0
    crdgen.write_all(tmp_path)
    assert check(tmp_path).returncode == 0
    victim = tmp_path / crdgen.file_name(crdgen.KINDS[0])
    victim.write_text(victim.read_text().replace("minimum: -1", "minimum: -2"))
    (tmp_path / "serverless.alipay.com_leftovers.yaml").write_text("{}\n")
    result = check(tmp_path)
    assert result.returncode == 1
    assert "differs" in result.stderr and "not generated" in result.stderr
    # Writing again repairs the directory and removes the leftover.
    crdgen.write_all(tmp_path)
    assert check(tmp_path).returncode == 0
    assert not (tmp_path / "serverless.alipay.com_leftovers.yaml").exists()
