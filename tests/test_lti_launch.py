"""LMS launch (LTI 1.3) through the course's real JupyterHub (deploy/hub/jupyterhub_config.py, BPC_LTI_* set).

The test plays the LMS (testkit/lti_platform.py: its own key pair, its JWKS and authorization endpoint on
127.0.0.1) and the student's browser. The hub runs on free ports (never the guide's 8000/8001/8081) with
the ``simple`` spawner; no user's server is started: a launch ends when the hub has logged the user in.
Cases: a valid launch logs in under the LMS's id (Canvas's user id, which the roster from Canvas's gradebook
export holds); expired, replayed, wrongly signed, wrong-audience and wrong-issuer launches, one without the
id claim and one of someone not on the hub's list are refused with a page that says what is wrong, and the
browser holds no login afterwards. The later tests check deploy/hub/lti.py's rules without a hub, and the
guide's LTI settings as printed.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from traitlets.config.loader import PyFileConfigLoader

from autograder.coursedir.roster import roster_from_file
from testkit.lms_fixtures import canvas_gradebook
from testkit.lti_platform import Browser, LtiPlatform, LtiUser, Tweak

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy" / "hub"))
from lti import CourseLTI13Authenticator, LtiSettings, NonceLedger
from ltiauthenticator.lti13.error import LoginError

pytestmark = pytest.mark.lti

ROOT = Path(__file__).resolve().parents[1]
HUB_DIR = ROOT / "deploy" / "hub"
PROXY = HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
BIN = Path(sys.executable).parent
CLAIM = "custom_lms_user_id"  # the guide's Canvas setting: the tool config's custom field lms_user_id=$User.id
ANNA = LtiUser(sub="a6d5c443-1f51-4783-ba1a-7686ffe3b54a", name="Anna Müller", email="anna.mueller@uni.example",
               custom={"lms_user_id": "4711"})
BEN = LtiUser(sub="0b6f1d2e-93aa-4c1e-8f4d-52d7e0c2a9b1", name="Ben Okafor", email="ben.okafor@uni.example",
              custom={"lms_user_id": "4712"})
LTI_CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
GOOD = {"BPC_LTI_ISSUER": "https://canvas.instructure.com", "BPC_LTI_CLIENT_IDS": "10000000000042",
        "BPC_LTI_AUTHORIZE_URL": "https://sso.canvaslms.com/api/lti/authorize_redirect",
        "BPC_LTI_JWKS_URL": "https://sso.canvaslms.com/api/lti/security/jwks"}
STRANGER = LtiUser(sub="9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", name="Dan Other", email="dan@uni.example",
                   custom={"lms_user_id": "4799"})
NO_ID = LtiUser(sub="5e0c9a41-7d3b-4a2f-9c6e-1f8b2d4a6c0e", name="Cleo Park", email="cleo@uni.example")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LtiHub:
    """The running hub, the platform it trusts and the admin token of the hub's ``course-admin`` service."""

    url: str
    platform: LtiPlatform
    token: str
    log: Path

    @property
    def login_url(self) -> str:
        return f"{self.url}/hub/lti13/oauth_login"

    def launch(self, user: LtiUser, tweak: Tweak | None = None) -> tuple[Browser, requests.Response]:
        """One launch of ``user`` in a fresh browser, the platform's id_token changed as ``tweak`` says."""
        self.platform.tweak = tweak or Tweak()
        browser = Browser()
        form = browser.start_launch(self.login_url, self.platform.login_initiation(user, f"{self.url}/hub/"))
        return browser, browser.submit(form)

    def logged_in(self, browser: Browser) -> bool:
        """Whether ``browser`` holds a hub login (the home page answers instead of sending it to log in)."""
        r = browser.session.get(f"{self.url}/hub/home", allow_redirects=False, timeout=30)
        assert r.status_code in (200, 302), r.status_code
        return r.status_code == 200

    def user(self, name: str) -> int:
        """The status of ``GET /hub/api/users/NAME`` (200: the hub knows the user)."""
        r = requests.get(f"{self.url}/hub/api/users/{name}", headers={"Authorization": f"token {self.token}"},
                         timeout=30)
        return r.status_code


def _hub_env(base: Path, platform: LtiPlatform, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BPC_", "JUPYTER"))}
    env["PATH"] = os.pathsep.join((str(BIN), env.get("PATH", "")))
    env.update({
        "BPC_HUB_IP": "127.0.0.1", "BPC_HUB_PORT": str(_free_port()), "BPC_HUB_API_PORT": str(_free_port()),
        "BPC_HUB_PROXY_API_PORT": str(_free_port()), "BPC_HUB_STATE_DIR": str(base / "state"),
        "BPC_EXCHANGE_ROOT": str(base / "exchange"), "BPC_HUB_SPAWNER": "simple",
        "BPC_HUB_HOMES": str(base / "home" / "{username}"), "BPC_HUB_API_TOKEN": token,
        "BPC_LTI_ISSUER": platform.issuer, "BPC_LTI_CLIENT_IDS": platform.client_id,
        "BPC_LTI_AUTHORIZE_URL": platform.authorize_url, "BPC_LTI_JWKS_URL": platform.jwks_url,
        "BPC_LTI_USERNAME_CLAIM": CLAIM, "BPC_STUDENTS": "4711,4712",  # LMS ids, as the roster has them
    })
    return env


def _wait_for_hub(proc: subprocess.Popen, url: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterHub exited {proc.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/hub/api/", timeout=5).status_code == 200:
                return
        time.sleep(0.3)
    pytest.fail(f"JupyterHub did not answer within {timeout} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def lti_hub() -> Iterator[LtiHub]:
    """The course's hub with LTI on, trusting a simulated LMS; stopped and removed afterwards."""
    if not PROXY.exists() or not shutil.which("node"):
        why = f"{PROXY} (and Node.js) needed: run `make hub-proxy`"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(why)
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="bpc-lti-"))
    (base / "exchange").mkdir()
    token = secrets.token_hex(32)
    with LtiPlatform() as platform:
        env = _hub_env(base, platform, token)
        url = f"http://127.0.0.1:{env['BPC_HUB_PORT']}"
        platform.redirect_uri = f"{url}/hub/lti13/oauth_callback"  # the tool's registration at the LMS
        log = base / "jupyterhub.log"
        (base / "state").mkdir()
        with log.open("w") as out:
            proc = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(HUB_DIR / "jupyterhub_config.py")],
                                    stdout=out, stderr=subprocess.STDOUT, cwd=base / "state", env=env,
                                    start_new_session=True)
        try:
            _wait_for_hub(proc, url, log)
            yield LtiHub(url, platform, token, log)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            shutil.rmtree(base, ignore_errors=True)


def _refused(response: requests.Response, status: int, *phrases: str) -> None:
    """The hub refused with ``status`` and a page holding each phrase (and no session for anyone)."""
    assert response.status_code == status, (response.status_code, response.text[-1500:])
    text = " ".join(html.unescape(response.text).split())
    for phrase in phrases:
        assert phrase in text, (phrase, text[-1500:])
    assert "jupyterhub-hub-login" not in response.cookies  # no one was logged in


def test_a_valid_launch_logs_in_under_the_lms_id_the_roster_holds(lti_hub, tmp_path):
    browser, r = lti_hub.launch(ANNA)
    assert r.status_code == 302, r.text[-1500:]
    assert r.headers["Location"] == "/hub/"
    assert lti_hub.logged_in(browser)
    home = browser.session.get(f"{lti_hub.url}/hub/home", timeout=30)
    assert "4711" in home.text
    assert lti_hub.user(ANNA.sub) == 404  # not the platform's opaque sub
    assert lti_hub.platform.jwks_requests >= 1  # the hub checked the signature with the platform's keys
    # the hub user name is the id of Canvas's gradebook export, so `collect` finds the roster student by it
    book = canvas_gradebook(tmp_path / "gradebook.csv", [("Müller, Anna", 4711, "S-100", "amueller"),
                                                         ("Okafor, Ben", 4712, "S-101", "bokafor")], [])
    assert roster_from_file(book).find("4711", "the hub user").name == "Müller, Anna"


def test_an_expired_launch_is_refused(lti_hub):
    browser, r = lti_hub.launch(BEN, Tweak(age=1200))
    _refused(r, 400, "This launch from the LMS has expired", "Open the course again from the LMS")
    assert not lti_hub.logged_in(browser)


def test_a_launch_issued_too_long_ago_is_refused_even_if_not_yet_expired(lti_hub):
    _, r = lti_hub.launch(BEN, Tweak(age=1200, lifetime=3600))
    _refused(r, 400, "This launch from the LMS has expired")


def test_a_wrongly_signed_launch_is_refused(lti_hub):
    browser, r = lti_hub.launch(BEN, Tweak(rogue_key=True))
    _refused(r, 401, "signature does not match the LMS's public keys")
    assert not lti_hub.logged_in(browser)


def test_a_launch_for_another_tool_is_refused(lti_hub):
    browser, r = lti_hub.launch(BEN, Tweak(claims={"aud": "another-tool-client-id"}))
    _refused(r, 401, "This launch was made for another tool", "BPC_LTI_CLIENT_IDS")
    assert not lti_hub.logged_in(browser)


def test_a_launch_from_another_lms_is_refused(lti_hub):
    _, r = lti_hub.launch(BEN, Tweak(claims={"iss": "https://lms.elsewhere.example"}))
    _refused(r, 401, "comes from another LMS", "BPC_LTI_ISSUER")


def test_a_replayed_launch_is_refused(lti_hub):
    lti_hub.platform.tweak = Tweak()
    browser = Browser()
    form = browser.start_launch(lti_hub.login_url, lti_hub.platform.login_initiation(BEN, f"{lti_hub.url}/hub/"))
    captured = browser.copy()  # someone who captured the request, cookies included, before it was sent
    assert browser.submit(form).status_code == 302
    # the same browser posting the same launch again: the login's cookie is used up
    _refused(browser.submit(form), 400, "This launch was already used", "Open the course again from the LMS")
    # the captured request, with the cookies it had: the nonce was seen before
    _refused(captured.submit(form), 400, "This launch was already used (its nonce was seen before)")
    assert lti_hub.logged_in(browser) and not lti_hub.logged_in(captured)


def test_a_launch_that_is_no_token_is_refused(lti_hub):
    lti_hub.platform.tweak = Tweak()
    browser = Browser()
    form = browser.start_launch(lti_hub.login_url, lti_hub.platform.login_initiation(BEN, f"{lti_hub.url}/hub/"))
    form.fields["id_token"] = "not-a-token"
    _refused(browser.submit(form), 400, "This launch's token cannot be read")
    assert not lti_hub.logged_in(browser)


def test_a_launch_without_the_id_claim_is_refused_not_filed_under_sub(lti_hub):
    _, r = lti_hub.launch(NO_ID)
    _refused(r, 400, f"carries no '{CLAIM}'", "BPC_LTI_USERNAME_CLAIM")
    assert lti_hub.user(NO_ID.sub) == 404  # not logged in under the sub either


def test_behind_https_the_logins_cookies_come_back_with_the_lms_cross_site_post(lti_hub):
    # as a TLS reverse proxy in front of the hub says; the LMS's form POST is cross-site, so browsers send the
    # login's state and nonce cookies with it only if they are SameSite=None (which needs Secure)
    initiation = lti_hub.platform.login_initiation(BEN, f"{lti_hub.url}/hub/")
    r = requests.post(lti_hub.login_url, data=initiation, headers={"X-Forwarded-Proto": "https"},
                      allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "redirect_uri=https%3A%2F%2F" in r.headers["Location"]
    cookies = [c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith("lti13authenticator-")]
    assert len(cookies) == 2, r.raw.headers.getlist("Set-Cookie")
    for cookie in cookies:
        attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert {"samesite=none", "secure", "httponly"} <= attributes, cookie
    plain = requests.post(lti_hub.login_url, data=initiation, allow_redirects=False, timeout=30)
    assert all("samesite=none" not in c.lower() for c in plain.raw.headers.getlist("Set-Cookie"))


def test_a_valid_launch_of_someone_not_on_the_hubs_list_is_refused_by_name(lti_hub):
    browser, r = lti_hub.launch(STRANGER)
    _refused(r, 403, "The LMS user '4799' is not on this course's list", "BPC_STUDENTS")
    assert not lti_hub.logged_in(browser)


def test_the_tool_configuration_canvas_reads_asks_for_the_id_the_hub_logs_in_under(lti_hub):
    config = requests.get(f"{lti_hub.url}/hub/lti13/config", timeout=30).json()
    assert config["custom_fields"]["lms_user_id"] == "$User.id"  # Canvas's user id: the roster's id
    assert CLAIM == "custom_" + "lms_user_id"
    assert config["oidc_initiation_url"] == lti_hub.login_url


def test_the_hub_has_no_login_page_of_its_own(lti_hub):
    r = requests.get(lti_hub.login_url, timeout=30)
    _refused(r, 400, "open the course from the LMS")


# ---- the rules of deploy/hub/lti.py the launches rely on (no hub needed, but JupyterHub's import is slow)
def test_the_username_is_the_configured_claim_never_sub_by_fallback():
    auth = CourseLTI13Authenticator(username_key="custom_lms_user_id")
    assert auth.get_username({"sub": "opaque", LTI_CUSTOM: {"lms_user_id": 4711}}) == "4711"
    with pytest.raises(LoginError, match="carries no 'custom_lms_user_id'"):
        auth.get_username({"sub": "opaque", LTI_CUSTOM: {}})
    assert CourseLTI13Authenticator(username_key="email").get_username({"email": "Lee@X.example"}) == "lee@x.example"
    with pytest.raises(LoginError, match="cannot be a student id"):
        CourseLTI13Authenticator(username_key="sub").get_username({"sub": "a b"})


def test_a_nonce_is_accepted_once():
    ledger = NonceLedger(keep_seconds=60)
    assert ledger.first_use("n1") and ledger.first_use("n2")
    assert not ledger.first_use("n1")


def test_lti_is_off_without_an_issuer_and_the_settings_are_read():
    assert LtiSettings.from_env({}) is None
    lti = LtiSettings.from_env({**GOOD, "BPC_LTI_CLIENT_IDS": "1,2", "BPC_LTI_USERNAME_CLAIM": "email"})
    assert lti is not None and lti.client_ids == ("1", "2") and lti.username_claim == "email"
    assert LtiSettings.from_env(GOOD).username_claim == "sub"  # type: ignore[union-attr]


def _hub_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Any:
    """deploy/hub/jupyterhub_config.py loaded as JupyterHub loads it, with only ``env``'s BPC_* settings."""
    for key in [k for k in os.environ if k.startswith("BPC_")]:
        monkeypatch.delenv(key)
    for key, value in {"BPC_HUB_STATE_DIR": str(tmp_path / "state"), **env}.items():
        monkeypatch.setenv(key, value)
    return PyFileConfigLoader("jupyterhub_config.py", path=str(HUB_DIR)).load_config()


def test_the_hub_config_switches_to_lti_only_with_an_issuer(monkeypatch, tmp_path):
    plain = _hub_config(monkeypatch, tmp_path, BPC_STUDENTS="s1")
    assert plain.JupyterHub.authenticator_class == "pam"
    listed = _hub_config(monkeypatch, tmp_path, BPC_STUDENTS="4711,4712", **GOOD)
    assert listed.JupyterHub.authenticator_class is CourseLTI13Authenticator
    assert listed.LTI13Authenticator.client_id == {"10000000000042"} and listed.LTI13Authenticator.username_key == "sub"
    assert listed.Authenticator.allowed_users == {"4711", "4712"} and "allow_all" not in listed.Authenticator
    everyone = _hub_config(monkeypatch, tmp_path, BPC_INSTRUCTORS="4700", **GOOD)  # no students listed
    assert everyone.Authenticator.allow_all is True


@pytest.mark.parametrize(("change", "message"), [
    ({"BPC_LTI_CLIENT_IDS": ""}, "BPC_LTI_CLIENT_IDS is empty"),
    ({"BPC_LTI_JWKS_URL": "http://lms.example/jwks"}, "BPC_LTI_JWKS_URL.*https"),
    ({"BPC_LTI_AUTHORIZE_URL": ""}, "BPC_LTI_AUTHORIZE_URL"),
    ({"BPC_LTI_MAX_AGE": "10 # minutes"}, "BPC_LTI_MAX_AGE"),
    ({"BPC_LTI_USERNAME_CLAIM": "'email'"}, "without quotes"),
    ({"BPC_LTI_CLIENT_IDS": '"10000000000042"'}, "without quotes"),
])
def test_bad_lti_settings_say_what_to_change(change, message):
    with pytest.raises(ValueError, match=message):
        LtiSettings.from_env({**GOOD, **change})


# ---- docs/deploy.md's "LMS launch (LTI 1.3)": the settings as printed, the install line's requirement
def _guide_section() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text()
    return text.split("### LMS launch (LTI 1.3)", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]


def test_the_guides_canvas_settings_pass_the_hubs_checks_as_printed():
    section = _guide_section()
    (block,) = re.findall(r"```ini\n(.*?)```", section, flags=re.S)
    env = dict(line.strip().split("=", 1) for line in block.splitlines() if line.strip())
    lti = LtiSettings.from_env(env)
    assert lti is not None and lti.username_claim == CLAIM  # the claim the launch test logs in by
    assert lti.issuer == "https://canvas.instructure.com" and lti.client_ids == ("10000000000042",)
    documented = set(re.findall(r"``(BPC_LTI_[A-Z_]+)``", (HUB_DIR / "lti.py").read_text()))
    assert set(env) | {"BPC_LTI_MAX_AGE"} == documented


def test_the_guides_install_line_asks_for_the_version_the_tests_use():
    (line,) = [ln for ln in _guide_section().splitlines() if "pip install" in ln]
    wanted = re.search(r"'(jupyterhub-ltiauthenticator[^']*)'", line)
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    assert wanted is not None and wanted.group(1) in extra
