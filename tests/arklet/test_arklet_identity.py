"""What an install answer says is on the base, read from answers recorded from real bases.

The bodies below are copied from exchanges with koupleless 2.1.6 (2025) and sofa-serverless 0.5.6
(2023) bases: a real Arklet names the identity of the jar's manifest, not the one asked for.
"""

from __future__ import annotations

import pytest

from module_controller.arklet import Outcome, installed_identity
from module_controller.arklet import protocol

SUCCESS_2025 = {"code": "SUCCESS", "data": {"bizInfos": [{
    "bizName": "provider", "bizState": "activated", "bizVersion": "2.0.0",
    "identity": "provider:2.0.0", "bizStateRecords": [{}, {}]}], "code": "SUCCESS",
    "elapsedSpace": 78416,
    "message": "Install Biz: provider:2.0.0 success, cost: 602 ms, started at: 13:15:51,798"}}
REPEAT = {"code": "FAILED", "data": {"code": "REPEAT_BIZ", "elapsedSpace": 1112,
          "message": "Biz: provider:1.0.2 has been installed or registered."},
          "message": "install biz not success!"}
CONFLICT = {"code": "FAILED", "message": "FAILED:provider:1.0.2 installBiz conflict, exist "
            "unfinished command(installBiz) for this biz"}
MASTER = {"code": "FAILED", "data": {"code": "FAILED",
          "message": "Master biz must not be uninstalled."},
          "message": "uninstall biz not success!"}
NOT_FOUND_URL = {"code": "CMD_PROCESS_INTERNAL_ERROR",
                 "message": "Internal Error: java.io.FileNotFoundException: http://x/a.jar"}


def test_success_names_the_manifest_identity() -> None:
    result = protocol.parse_envelope(protocol.INSTALL, SUCCESS_2025)
    assert result.outcome is Outcome.SUCCESS
    assert installed_identity(result) == ("provider", "2.0.0")


def test_repeat_biz_names_what_is_there_whatever_was_asked() -> None:
    result = protocol.parse_envelope(protocol.INSTALL, REPEAT)
    assert result.outcome is Outcome.REPEAT_BIZ
    assert installed_identity(result) == ("provider", "1.0.2")


@pytest.mark.parametrize("envelope", [CONFLICT, NOT_FOUND_URL])
def test_answers_naming_no_installed_biz(envelope: dict) -> None:
    assert installed_identity(protocol.parse_envelope(protocol.INSTALL, envelope)) is None


def test_identity_only_for_install_answers() -> None:
    assert installed_identity(protocol.parse_envelope(protocol.QUERY_ALL, {
        "code": "SUCCESS", "data": [{"bizName": "a", "bizVersion": "1", "bizState": "ACTIVATED"}]
    })) is None


def test_master_biz_uninstall_is_not_success() -> None:
    result = protocol.parse_envelope(protocol.UNINSTALL, MASTER)
    assert result.outcome is Outcome.MASTER_BIZ
    assert not result.ok


def test_conflict_without_data_is_recognised() -> None:
    assert protocol.parse_envelope(protocol.INSTALL, CONFLICT).outcome is Outcome.CONFLICT
