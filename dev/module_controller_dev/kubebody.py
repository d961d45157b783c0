"""Manifests as request bodies of kubernetes_asyncio, and its merge-patch option, typed once.

kubernetes_asyncio sends a dict body as it is and takes a request's content type from the
keyword ``_content_type``; its type stubs name only the model classes as bodies and leave that
keyword out. The development tools write plain manifests (dicts) throughout, so these two say
that once instead of an ignore at every call.
"""

from __future__ import annotations

from typing import Any, Mapping


def body(manifest: Mapping[str, Any]) -> Any:
    """``manifest`` as a request body (serialised as it is)."""
    return manifest


#: Keyword arguments of a patch call that make it a JSON merge patch (RFC 7386).
MERGE_PATCH: dict[str, Any] = {"_content_type": "application/merge-patch+json"}
