"""The user guide's chapter "Operating releases" is executed like the walkthrough: every `sh` block,
in order, against the dev cluster with the real controller, through `kubectl module` found on
PATH. A `text` block right after an `sh` block is that block's terminal output as recorded in a
run of this test: it must still match what the commands print, up to what differs from run to run
(namespace, generated names, pod IPs, ages, the order of events of the same second; so a
writing command's ``then:`` line, which lists the Events since its write, is not compared)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from module_controller_dev.devcluster import testing as kt

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "user-guide.md"
CHAPTER = "## Operating releases"


def chapter_blocks() -> list[tuple[str, str | None]]:
    """(sh block, the text block that follows it or None), in order."""
    section = GUIDE.read_text().split(CHAPTER, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(sh|text)\n(.*?)```", section, flags=re.S)
    out: list[tuple[str, str | None]] = []
    for kind, body in blocks:
        if kind == "sh":
            out.append((body, None))
        elif out and out[-1][1] is None:
            out[-1] = (out[-1][0], body)
    return out


def normalise(text: str, namespace: str) -> list[str]:
    """Lines with what changes between runs replaced, blanks collapsed (column widths follow the
    lengths of names); the Events section and ``then:`` lines are left out (same-second events
    come in any order)."""
    lines = []
    in_events = False
    for line in text.splitlines():
        if line.startswith(("Events:", "then: ")):
            in_events = True  # a then: line and its Events since the write: the same caveat
        elif line and not line.startswith(" "):
            in_events = False
        if in_events:
            continue
        line = line.replace(namespace, "NS") if namespace else line
        line = re.sub(r"^Namespace:\s+\S+", "Namespace: NS", line)
        line = re.sub(r"dynamic-stock-deployment-[a-z0-9]+-[a-z0-9]+", "POD", line)
        line = re.sub(r"(-provider-)[a-z0-9]{5}\b", r"\1XXXXX", line)
        line = re.sub(r"\b127\.\d+\.\d+\.\d+\b", "IP", line)
        line = re.sub(r"\b\d{2}:\d{2}:\d{2}Z\b", "TIME", line)
        line = re.sub(r"(?<![\w.])\d+[smhd](\d+[smh])?(?![\w.])", "AGE", line)
        lines.append(" ".join(line.split()))
    return [line for line in lines if line]


def test_chapter_has_the_seed_flow():
    blocks = chapter_blocks()
    assert len(blocks) >= 4
    assert any("kubectl module promote" in sh for sh, _ in blocks)
    status = next(text for sh, text in blocks if sh.strip().endswith("status moduledeployment-sample"))
    assert status and "waits for confirmation: kubectl module promote moduledeployment-sample" in status


async def test_chapter_runs_and_its_output_is_real(api, namespace, controller, user):
    await kt.create_base_deployment(api, namespace, 3)
    await kt.wait_ready_pods(api, namespace, "app=dynamic-stock", 3)
    for number, (block, recorded) in enumerate(chapter_blocks(), 1):
        ran = user.shell(block)
        print(f"--- block {number} stdout:\n{ran.out}")  # the output to record in the guide
        assert ran.code == 0, f"block {number} failed:\n{block}\nstdout:\n{ran.out}\nstderr:\n{ran.err}"
        if recorded is None:
            continue
        real = normalise(ran.out, namespace)
        missing = [line for line in normalise(recorded, "") if line not in real]
        assert not missing, (f"block {number}: the guide shows lines the commands no longer print:"
                             f"\n{missing}\nreal output:\n{ran.out}")
    assert await kt.get_deployment(api, namespace, "moduledeployment-sample") is None
    assert await kt.list_modules(api, namespace) == []
