# The course image: what every user's server runs on Kubernetes (deploy/k8s/values.yaml, docs/deploy.md
# "### Kubernetes"). Built from the package only: the wheel of autograder and course_lib, never notebooks/
# (the source notebooks hold the solutions and hidden tests; instructors get them as on one machine).
#   docker build -t registry.example.edu/backprop-course:0.1.0 .
# tests/test_kubernetes_deploy.py runs this file's pip install steps in a fresh venv and scans what COPY puts in.

# 1. the wheel, built from the package's files alone
FROM python:3.12-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY autograder ./autograder
COPY course_lib ./course_lib
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# 2. the single-user server: Jupyter's docker-stacks base (user jovyan, jupyterhub-singleuser, start scripts)
FROM quay.io/jupyter/base-notebook:python-3.12
USER root
# bubblewrap: `backprop-course grade` sandboxes students' code (where the cluster allows user namespaces)
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
COPY deploy/k8s/nbgrader_config.py /etc/jupyter/nbgrader_config.py
USER ${NB_UID}
COPY --from=wheel /wheels /tmp/wheels
# ngshare-exchange below 0.5.3: 0.5.3 asks for jupyter-core<4.11.2, which nbgrader 0.9.6's nbclient excludes
RUN python -m pip install --no-cache-dir /tmp/wheels/backprop_course-*.whl 'ngshare-exchange>=0.5.2,<0.5.3' \
    'jupyterhub>=5.2,<7' && rm -rf /tmp/wheels
ENV BPC_COURSE_ID=backprop-course
