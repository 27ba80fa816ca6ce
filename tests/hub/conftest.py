"""Fixtures of the JupyterHub tests: the course's hub (deploy/hub) on 127.0.0.1 with an exchange folder.

Everything lives in one temp folder (the users' homes, the exchange, the hub's state) that is removed
afterwards, with every process the hub started. Without Node or the proxy (``make hub-proxy``) the tests
are skipped with the reason, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_support import (
    COURSE_ID,
    INSTRUCTOR,
    LOCAL_HOST,
    ROOT,
    STUDENTS,
    CourseHub,
    HubProcess,
    HubSettings,
    free_port,
    hub_missing,
    in_ci,
    start_hub,
)


@pytest.fixture(params=["files", "ngshare"])
def course_hub(request: pytest.FixtureRequest, pg_url: str) -> Iterator[CourseHub]:
    """The course's hub with fresh homes, exchange and a PostgreSQL gradebook; stopped and removed after.

    Once with nbgrader's file-system exchange (a folder every server sees), once with the hub's ngshare
    service (``BPC_EXCHANGE=ngshare``: no folder is shared; the exchange folder must stay empty).
    """
    why = hub_missing(request.param)
    if why:
        if in_ci():
            pytest.fail(f"{why} (CI is set, so the hub test must run: `make test` installs the proxy)")
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="bpc-hub-"))
    hub: HubProcess | None = None
    try:
        exchange = base / "exchange"
        exchange.mkdir()
        os.chmod(exchange, 0o1777)  # nbgrader: everyone may write (o+rwx); sticky: no one deletes others' files
        settings = HubSettings(
            ip=LOCAL_HOST, port=free_port(), hub_port=free_port(), proxy_api_port=free_port(),
            state_dir=base / "hub-state", exchange_root=str(exchange), course_id=COURSE_ID,
            gradebook_url=pg_url, instructors=(INSTRUCTOR,), students=STUDENTS,
            password=secrets.token_urlsafe(12), spawner="simple", homes=str(base / "home" / "{username}"),
            api_token=secrets.token_hex(32), exchange=request.param, ngshare_dir=str(base / "ngshare"),
            ngshare_port=free_port(),
        )
        hub = start_hub(settings)
        yield CourseHub(hub, base, exchange, pg_url)
    finally:
        if hub is not None:
            hub.stop()
            artifacts = ROOT / "test-artifacts" / "hub"
            artifacts.mkdir(parents=True, exist_ok=True)
            (artifacts / f"jupyterhub-{request.param}.log").write_text(hub.log_tail(500_000))
        shutil.rmtree(base, ignore_errors=True)
