"""JupyterHub configuration of the backprop course: ``jupyterhub -f deploy/hub/jupyterhub_config.py``.

Every setting comes from a ``BPC_*`` environment variable (listed in ``course_hub.py`` beside this file and
in docs/deploy.md); this file only hands them to JupyterHub. ``BPC_LTI_ISSUER`` set: students log in by
launching the course from the LMS (LTI 1.3, ``lti.py`` beside this file).
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from course_hub import HubSettings, configure

# JupyterHub stops the servers and services it started with SIGINT first. A hub that a script started in the
# background (`jupyterhub ... &`) has SIGINT ignored, and every process it starts would inherit that and sit
# out JupyterHub's stop timeouts (ngshare: 30 s at each stop, measured). A handler set here is reset to the
# default in each process the hub starts.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file
settings = HubSettings.from_env()
configure(c, settings)
if os.environ.get("BPC_LTI_ISSUER", "").strip():  # imported only then: the package is needed only with LTI
    from lti import LtiSettings, configure_lti

    lti = LtiSettings.from_env(os.environ)
    if lti is not None:
        configure_lti(c, lti, allow_all=not settings.students)
