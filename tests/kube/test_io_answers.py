"""How kube/io.py reads the generated client's answers (no cluster needed: nothing is sent)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from module_controller.kube.io import call_api, call_json, json_object, response_json


def test_an_answer_must_be_a_json_object() -> None:
    assert json_object({"kind": "Pod"}) == {"kind": "Pod"}
    with pytest.raises(ValueError, match="JSON object.*list"):
        json_object([{"kind": "Pod"}])


async def test_a_raw_answer_must_be_the_aiohttp_response() -> None:
    with pytest.raises(TypeError, match="V1Pod"):
        await response_json(client.V1Pod())


async def test_the_content_type_reaches_the_generated_method_under_its_own_name() -> None:
    async def method(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"args": list(args), "kwargs": kwargs}

    answer = await call_json(method, "ns", "name", {"spec": {}},
                             content_type="application/merge-patch+json", dry_run="All")
    assert answer == {"args": ["ns", "name", {"spec": {}}],
                      "kwargs": {"_content_type": "application/merge-patch+json",
                                 "dry_run": "All"}}
    assert await call_api(method) == {"args": [], "kwargs": {}}
