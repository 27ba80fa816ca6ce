"""The graded exercises' working code: local derivatives, backward, θ as a vector, a training step.

course_lib's graph, models and training call these, so a student's own copy (JupyterLab, ``check``)
works as before, with :mod:`course_lib.guard` switching them off inside a graded function. **The grading
sandbox does not contain this folder** (:mod:`autograder.isolation.sandbox` hides it): while a submission
is graded, no import, attribute, ``__wrapped__``, file or object in the student's process holds these
answers, and the public names that need them raise :class:`course_lib.guard.AnswerUnavailable`.

* :mod:`course_lib.answers.local` — the local derivative of every graph operation (1.2, 2.2);
* :mod:`course_lib.answers.engine` — the topological order and the reverse sweep of ``backward`` (5.1, 5.2);
* :mod:`course_lib.answers.network` — ``flatten``/``unflatten`` (4.2), ``sgd_step`` (4.3) and
  ``graph_gradients`` (4.1; 3.5's deltas follow from it).

Nothing outside course_lib imports this package directly: use :func:`course_lib.guard.graded_answers`.
"""
