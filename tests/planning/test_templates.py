"""ModuleTemplate usage (planning/templates.py), without a cluster."""

from module_controller.planning.templates import template_refs, template_users


def md(name: str, ref: str | None = None) -> dict:
    spec = {"templateRef": {"name": ref}} if ref else {"template": {"spec": {}}}
    return {"metadata": {"name": name}, "spec": spec}


def test_users_are_the_module_deployments_naming_the_template_sorted() -> None:
    mds = [md("b", "tpl"), md("inline"), md("a", "tpl"), md("c", "other")]
    assert template_users(mds, "tpl") == ["a", "b"]
    assert template_users(mds, "unused") == []
    assert template_users([], "tpl") == []


def test_refs_of_a_change_cover_the_old_and_the_new_template() -> None:
    assert template_refs(md("a", "old"), md("a", "new")) == {"old", "new"}
    assert template_refs(None, md("a", "tpl")) == {"tpl"}
    assert template_refs(md("a"), None) == set()
