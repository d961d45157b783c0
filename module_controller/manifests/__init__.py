"""The controller's install set, rendered from jinja2 templates, ``crds/`` and ``rbac/``.

``module_controller.manifests.render.render(namespace, image, mode=..., replicas=...,
leader_election=...)`` returns the objects;
``module-controller manifests --namespace NS --image IMG [--mode namespaced] --out DIR``
writes them for ``kubectl apply -f DIR`` (``make manifests`` writes ``config/deploy/``).

(The function is not re-exported here: it would shadow the ``render`` module.)
"""
