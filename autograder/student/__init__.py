"""Tools for students: ``check`` (see your points before handing in) and ``lab`` (JupyterLab without the
instructor's nbgrader tools). They use the grader's lower layers but never the commands."""
