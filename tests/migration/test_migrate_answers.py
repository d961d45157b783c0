"""How the migration tells an API server's refusal (no cluster needed)."""

from __future__ import annotations

from kubernetes_asyncio.client.exceptions import ApiException

from module_controller.migrate.cli import _answer


def test_the_answer_is_told_as_text_not_as_bytes() -> None:
    exc = ApiException(status=422, reason="Unprocessable Entity")
    exc.body = b'{"message": "spec.modules: Invalid value: \xc3\xa9"}'
    assert _answer(exc) == '{"message": "spec.modules: Invalid value: \u00e9"}'
    exc.body = None
    assert _answer(exc) == ""
