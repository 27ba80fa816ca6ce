"""run_foreground: the child's exit status, its folder and environment, and SIGTERM passed on."""

import os
import signal
import sys
import threading

from autograder.processes import run_foreground


def test_returns_the_childs_status_in_its_folder_and_environment(tmp_path):
    code = "import os, sys; sys.exit(7 if os.getcwd() == sys.argv[1] and os.environ['X'] == 'y' else 1)"
    assert run_foreground([sys.executable, "-c", code, str(tmp_path)], cwd=tmp_path,
                          env={**os.environ, "X": "y"}) == 7


def test_sigterm_is_passed_on_and_the_previous_handler_restored():
    previous = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    status = run_foreground([sys.executable, "-c", "import time; time.sleep(60)"])
    timer.cancel()
    assert status == -signal.SIGTERM  # ended by the signal, not by the 60 s sleep
    assert signal.getsignal(signal.SIGTERM) is previous
