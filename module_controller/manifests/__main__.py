"""``python -m module_controller.manifests``: see :func:`module_controller.manifests.render.main`."""

import sys

from .render import main

sys.exit(main())
