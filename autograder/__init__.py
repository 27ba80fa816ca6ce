"""What an instructor runs: the ``backprop-course`` command (release, collect, grade, feedback, export)."""
