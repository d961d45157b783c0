"""Who owns an object (pure): by the uid in its controller owner reference, never by name or
label. A reference anyone can write with a made-up uid names an object; only the uid says which
(docs/security.md, "Threat model")."""

from __future__ import annotations

from ..api.objects import Obj


def controller_ref(obj: Obj, api_version: str, kind: str) -> Obj | None:
    """The object's controller owner reference if it is of ``api_version``/``kind`` (None:
    it has no controller, or another kind controls it)."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller") is True:
            if ref.get("apiVersion") == api_version and ref.get("kind") == kind:
                found: Obj = ref
                return found
            return None
    return None


def owned_by(obj: Obj, ref_api: str, kind: str, owner: Obj | None) -> bool:
    """``obj``'s controller owner reference points at ``owner`` itself: kind, name *and* uid."""
    ref = controller_ref(obj, ref_api, kind)
    return ref is not None and owner is not None and \
        ref.get("name") == owner["metadata"].get("name") and \
        bool(ref.get("uid")) and ref.get("uid") == owner["metadata"].get("uid")
