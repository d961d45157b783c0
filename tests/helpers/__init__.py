"""What the tests share, one implementation each (no helper written twice).

* :mod:`.bodies` — the objects a test applies: ModuleDeployment bodies, the base's names.
* :mod:`.cluster` — base pods, Modules and ModuleDeployments on the dev cluster; waits.
* :mod:`.arklet_log` — reading the fake Arklets' request logs and installed bizzes.
* :mod:`.state` — the namespace's state as text, for failure messages.
* :mod:`.controller` — the real controller process a cluster test runs against.
* :mod:`.logs` — what the controller's log set-up writes (text or JSON), captured.

kubectl is run through :mod:`module_controller_dev.devcluster.kubectl`; polling with a deadline and
the typed API calls are in :mod:`module_controller_dev.devcluster.testing` (shared with bench/).
Importable as ``helpers.<module>`` because pytest puts ``tests/`` (the folder of the top
conftest.py) on ``sys.path``.
"""
