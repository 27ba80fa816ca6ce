"""What an instructor runs: the ``backprop-course`` command (release, collect, grade, feedback, export)."""

from autograder.lazy_imports import defer_rfc3987_syntax

defer_rfc3987_syntax()  # before anything imports nbformat: see autograder.lazy_imports
