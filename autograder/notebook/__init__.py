"""Reading course notebooks: nbgrader's cell conventions (``cells``) and which cells grades need
(``dependencies``). No grading logic; used by every layer above.
"""
