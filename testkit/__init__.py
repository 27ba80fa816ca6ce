"""Code that the tests and the benchmarks share (not part of the installed package).

``pipeline_fixture`` builds a small two-assignment course; ``notebook_helpers`` reads and runs course
notebooks; ``isolation_cases`` lists one realistic mistake per answer cell; ``gradcheck_cases`` holds the
gradient checker's functions and bugs; ``pgserver`` starts a throwaway PostgreSQL server; ``lti_platform``
is a simulated LMS (LTI 1.3 platform) for the hub's LMS launch test; ``drawing_golden``
records the drawings' golden outputs. Import it from the repository root (pytest's ``pythonpath``; the
benchmarks run as ``python -m benchmarks.NAME``).
"""
