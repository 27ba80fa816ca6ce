"""Shared test settings: hypothesis runs reproducibly (derandomized) and without per-example deadlines."""

import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile("course", derandomize=True, deadline=None, max_examples=150)
settings.load_profile("course")
