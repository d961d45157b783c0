"""``kubectl module``: a kubectl plugin to operate the releases of ModuleDeployments.

Layers, each its own module:

* :mod:`.args` parses the command line (kubectl conventions: ``-n``, ``--kubeconfig``,
  ``--context``, ``-o wide|json|yaml|name``; usage errors exit 2); it imports only argparse, so
  ``--help`` and usage errors answer before any client library loads;
* :mod:`.view` (a package: status, changes, listings) turns API objects (dicts as the API server
  returns them) into the facts a command shows or the change it makes; pure, tested without a
  cluster;
* :mod:`.render` prints a view as a table (narrow by default, ``wide``), JSON, YAML or names;
* :mod:`.kube` is all the I/O (the project's client, ``kube/client.py``), :mod:`.watching`
  follows one ModuleDeployment through Kubernetes watches for ``status --watch``;
* :mod:`.commands` puts them together; :mod:`.main` is the ``kubectl-module`` executable.

Start-up: nothing heavy is imported at module level on the way from :mod:`.main` to a command
(the client, pydantic and YAML load inside the command that needs them); ``bench/plugin_startup.py``
measures it.
"""
