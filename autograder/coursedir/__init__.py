"""The instructor's course folder (nbgrader's layout and configuration) and its gradebook database."""
