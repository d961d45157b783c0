"""The development tools of module-controller, apart from the product (``module_controller``).

* :mod:`.devcluster` — a real control plane on loopback (``module-controller-dev up``), the
  control-plane binaries, a real node and the images it runs;
* :mod:`.fakearklet` — a protocol-faithful fake of the Arklet agent;
* :mod:`.basesim` — the base simulator: Ready pods with a fake Arklet (or a real base JVM) each;
* :mod:`.realbase` — the real koupleless bases, built with Maven and run as JVMs;
* :mod:`.modulerepo` — the module repository the bases download jars from;
* :mod:`.cli` — the ``module-controller-dev`` command.

The product never imports this package (an import contract in ``.importlinter``).
"""
