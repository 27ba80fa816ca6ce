"""The author's tools: check a source notebook before releasing it, and start a new exercise.

``mutants`` makes single mistakes in an answer cell's solution; ``exercises`` groups a notebook's cells
into its graded exercises; ``inprocess`` runs a notebook's code cells in one namespace and scores its
test cells as nbgrader does (the mutation benchmark's fast runner); ``mutation`` scores a notebook's
mutants in-process (``python -m benchmarks.mutation``); ``structure`` finds what would stop or spoil a
release, cell by cell; ``graded`` grades mutants with the real grader; ``lint`` is ``backprop-course
lint-source``; ``template`` is ``backprop-course new-exercise``.
"""
