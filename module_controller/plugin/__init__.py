"""``kubectl module``: a kubectl plugin to operate the releases of ModuleDeployments.

Layers, each its own module:

* :mod:`.args` parses the command line (kubectl conventions: ``-n``, ``--kubeconfig``,
  ``--context``, ``-o table|json|yaml``; usage errors exit 2);
* :mod:`.view` (a package: status, changes, listings) turns API objects (dicts as the API server
  returns them) into the facts a command shows or the change it makes; pure, tested without a
  cluster;
* :mod:`.render` prints a view as a table, JSON or YAML;
* :mod:`.kube` is all the I/O (kubernetes_asyncio, kubeconfig loading);
* :mod:`.commands` puts them together; :mod:`.main` is the ``kubectl-module`` executable.
"""
