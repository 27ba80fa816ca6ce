"""JupyterHub configuration of the backprop course: ``jupyterhub -f deploy/hub/jupyterhub_config.py``.

Every setting comes from a ``BPC_*`` environment variable (listed in ``course_hub.py`` beside this file and
in docs/deploy.md); this file only hands them to JupyterHub.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from course_hub import HubSettings, configure

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file
configure(c, HubSettings.from_env())
