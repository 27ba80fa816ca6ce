"""Shared test settings: hypothesis runs reproducibly (derandomized) and without per-example deadlines."""

import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile("course", derandomize=True, deadline=None, max_examples=150)
settings.load_profile("course")

# A throwaway PostgreSQL server: fixtures `postgres` (session) and `pg_url` (fresh database); see tests/pgserver.py
from pgserver import pg_url, postgres  # noqa: E402, F401
