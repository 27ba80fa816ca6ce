"""nbgrader's settings in the course image (/etc/jupyter/nbgrader_config.py): the exchange is the hub's
``ngshare`` service (deploy/k8s/values.yaml, ``hub.services.ngshare``), so no disk is shared between pods.

``BPC_NGSHARE_URL`` is set by the chart's ``singleuser.extraEnv``; ``BPC_COURSE_ID`` names the course.
"""

import os

from ngshare_exchange import configureExchange

c = get_config()  # noqa: F821 - defined by traitlets when nbgrader loads this file

configureExchange(c, os.environ.get("BPC_NGSHARE_URL", "http://ngshare:8080/services/ngshare"))
c.CourseDirectory.course_id = os.environ.get("BPC_COURSE_ID", "backprop-course")
