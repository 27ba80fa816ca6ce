"""nbgrader's settings in the course's JupyterHub (on every single-user server's JUPYTER_CONFIG_PATH).

The values come from environment variables that the hub gives each server (deploy/hub/course_hub.py):
everyone shares the exchange (a folder, or the hub's ngshare service) and course id; an instructor also
gets the course folder and gradebook;
a student's id is their JupyterHub user name.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.Exchange.root = os.environ.get("BPC_EXCHANGE_ROOT", "/srv/nbgrader/exchange")
c.CourseDirectory.course_id = os.environ.get("BPC_COURSE_ID", "backprop-course")

if os.environ.get("BPC_EXCHANGE") == "ngshare":
    # the exchange is the hub's ngshare service (BPC_EXCHANGE=ngshare): release, fetch, submit, collect and
    # feedback go over HTTP through the hub's proxy, each call with this server's hub token (who is asking)
    import ngshare_exchange

    ngshare_exchange.configureExchange(c, os.environ["BPC_NGSHARE_URL"])

if os.environ.get("BPC_ROLE") == "instructor":
    c.CourseDirectory.root = os.path.expanduser(os.environ.get("BPC_COURSE_DIR", "~/course"))
    url = os.environ.get("BPC_GRADEBOOK_URL", "")
    if url:
        try:  # postgresql:// -> postgresql+psycopg:// (the driver installed with the course)
            from autograder.coursedir.database import normalise_db_url

            url = normalise_db_url(url)
        except Exception:  # noqa: BLE001 - keep the URL as given; nbgrader reports what is wrong with it
            pass
        c.CourseDirectory.db_url = url
    # nbgrader's own generate_feedback (and Formgrader's button) copies hidden tests into the feedback unless
    # HideHiddenTests runs: the course folder's nbgrader_config.py (written by `backprop-course release`) says so,
    # but only when nbgrader runs in that folder; this makes it hold in every folder of an instructor's server
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "autograder.grading.feedback.HideHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    # worked derivations (cells tagged "worked-solution") are the answers: Formgrader's "Generate" leaves them
    # out of the student version as `backprop-course release` does, in every folder
    try:
        from autograder.notebook.worked import release_preprocessors

        c.GenerateAssignment.preprocessors = release_preprocessors()
    except ImportError:  # the course package is not installed here: the course folder's config still says so
        pass
    if os.environ.get("BPC_HUB_SPAWNER") == "simple":
        # every server runs as the hub's Unix user, so a submission's owner cannot match its student
        c.CollectApp.check_owner = False
elif os.environ.get("JUPYTERHUB_USER") and os.environ.get("BPC_EXCHANGE") != "ngshare":
    # nbgrader takes the Unix user name, except for `jovyan`; the hub's name is right with either spawner.
    # (ngshare knows the student from their hub token, and its submit refuses an explicit student id.)
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
