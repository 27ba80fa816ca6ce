"""Grading one submission (worker), many at once (pool), feedback pages and the static scan.

Uses :mod:`autograder.isolation` (the sandbox and the re-check) and :mod:`autograder.coursedir`.
"""
