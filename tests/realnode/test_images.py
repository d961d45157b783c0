"""The controller image built without Docker runs what the Dockerfile says, as whom it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from module_controller_dev.devcluster import images, ocitar

from .dockerfile import final_stage

REPO = Path(__file__).resolve().parents[2]


def _expected() -> dict:
    return final_stage(REPO / "Dockerfile", images.BASE_IMAGE_PATH)


def _compare(config: dict) -> None:
    want = _expected()
    assert config["User"] == want["User"] == f"{images.CONTROLLER_UID}:{images.CONTROLLER_UID}"
    assert config["Entrypoint"] == want["Entrypoint"]
    assert config["Cmd"] == want["Cmd"]
    assert config["WorkingDir"] == want["WorkingDir"]
    assert dict(e.split("=", 1) for e in config["Env"]) == want["Env"]
    assert sorted(config.get("ExposedPorts", {})) == sorted(want["ExposedPorts"])


def test_builder_settings_match_the_dockerfile() -> None:
    _compare(images.CONTROLLER_CONFIG.as_oci())


def test_dockerfile_reader_sees_a_drift(tmp_path: Path) -> None:
    changed = (REPO / "Dockerfile").read_text().replace("USER 65532:65532", "USER 1000:1000")
    (tmp_path / "Dockerfile").write_text(changed)
    assert final_stage(tmp_path / "Dockerfile", images.BASE_IMAGE_PATH)["User"] == "1000:1000"
    assert _expected()["User"] != "1000:1000"


@pytest.mark.realnode
def test_built_controller_image_matches_the_dockerfile(tmp_path: Path) -> None:
    built = images.build_controller(lambda m: None)
    config = ocitar.read_config(built.tarball)
    _compare(config["config"])
    assert config["os"] == "linux" and len(config["rootfs"]["diff_ids"]) == 1
