"""The instructor's commands, one module per step: release, collect, grade (and export), report, demo.

Top layer of the grader: commands use :mod:`autograder.grading`, :mod:`autograder.coursedir` and
:mod:`autograder.errors`; nothing below imports a command.
"""
