"""Tools for self-paced readers: the static site (``site``) and the training demo (``training_demo``)."""
