"""LMS launch (LTI 1.3): a student opens the course from Canvas or Moodle and is logged in under the LMS's id.

``jupyterhub_config.py`` calls :func:`configure_lti` after ``configure(...)`` when ``BPC_LTI_ISSUER`` is set;
unset, the hub logs in as before (PAM or the shared password). The authenticator is
``jupyterhub-ltiauthenticator``'s ``LTI13Authenticator`` (the hub is the LTI 1.3 *tool*, the LMS the
*platform*), with four additions (:class:`CourseLTI13Authenticator`):

* the user name is the claim ``BPC_LTI_USERNAME_CLAIM`` names, and nothing else (the library falls back to
  ``sub`` when the claim is missing, which would file a student under an id the roster does not know);
* a launch's nonce is accepted once (the library ties it to a cookie only: a launch captured together with
  its cookies could be replayed until it expires);
* a refused launch gets a page that says what is wrong and what to do, not the library's bare reason;
* over HTTPS the login's cookies are ``SameSite=None; Secure``, so that browsers send them with the LMS's
  cross-site POST of the launch (without it, a browser enforcing ``SameSite=Lax`` loses the login);
* someone not in ``BPC_STUDENTS``/``BPC_INSTRUCTORS`` (when those are given) is told so.

Settings (environment variables, plain ``NAME=value`` lines like the others; see docs/deploy.md):

==========================  ======================================================================
``BPC_LTI_ISSUER``          the platform's issuer, the ``iss`` of its launches (switches LTI on) []
``BPC_LTI_CLIENT_IDS``      comma-separated client ids the LMS gave this tool (the ``aud`` of launches)
``BPC_LTI_AUTHORIZE_URL``   the platform's OIDC authorization endpoint
``BPC_LTI_JWKS_URL``        the platform's public keys (JSON Web Key Set)
``BPC_LTI_USERNAME_CLAIM``  the id_token claim whose value is the student's id; ``custom_NAME`` is the custom
                            parameter NAME (Canvas: ``custom_lms_user_id``, the custom field
                            ``lms_user_id=$User.id`` of the hub's ``/hub/lti13/config``; Moodle: ``email``) [sub]
``BPC_LTI_MAX_AGE``         seconds a launch stays valid after the LMS signed it [600]
==========================  ======================================================================

Identity: the claim's value, lower-cased (JupyterHub lower-cases user names) and checked by
:func:`autograder.coursedir.roster.hub_student_id`, is the hub user name; the hub gives it to nbgrader as the
student id (``$JUPYTERHUB_USER``), so it names the student's hand-ins in the exchange, and ``collect`` finds it
in ``course/roster.csv`` (its ``id`` column, or email or SIS id), which is the id of the gradebook and every
export. With Canvas that is Canvas's user id (the gradebook export's ``ID``); with Moodle the email address.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.constants import LTI13_CUSTOM_CLAIM
from ltiauthenticator.lti13.error import LoginError, ValidationError
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler, LTI13LoginInitHandler
from tornado.web import HTTPError

from autograder.coursedir.roster import hub_student_id
from autograder.errors import CourseError

__all__ = ["CourseLTI13Authenticator", "LtiSettings", "NonceLedger", "configure_lti"]

AGAIN = "Open the course again from the LMS (its link logs you in afresh)."
TELL = "If this keeps happening, show this page to the course's instructor."
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class LtiSettings:
    """The LMS this hub is registered with (see the module docstring)."""

    issuer: str
    client_ids: tuple[str, ...]
    authorize_url: str
    jwks_url: str
    username_claim: str = "sub"
    max_age: int = 600

    @staticmethod
    def from_env(env: Mapping[str, str]) -> LtiSettings | None:
        """The settings from ``BPC_LTI_*`` variables; None when ``BPC_LTI_ISSUER`` is unset (LTI off)."""
        if not env.get("BPC_LTI_ISSUER", "").strip():
            return None
        age = env.get("BPC_LTI_MAX_AGE", "600").strip()
        if not age.isdigit() or not 30 <= int(age) <= 3600:
            raise ValueError(f"BPC_LTI_MAX_AGE={age!r}: give seconds between 30 and 3600")
        settings = LtiSettings(
            issuer=env["BPC_LTI_ISSUER"].strip(),
            client_ids=tuple(n.strip() for n in env.get("BPC_LTI_CLIENT_IDS", "").split(",") if n.strip()),
            authorize_url=env.get("BPC_LTI_AUTHORIZE_URL", "").strip(),
            jwks_url=env.get("BPC_LTI_JWKS_URL", "").strip(),
            username_claim=env.get("BPC_LTI_USERNAME_CLAIM", "sub").strip() or "sub",
            max_age=int(age),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ``ValueError`` with what to change if the settings cannot work."""
        if not self.client_ids:
            raise ValueError("BPC_LTI_CLIENT_IDS is empty: give the client id the LMS showed when the tool "
                             "was registered (Canvas: the developer key's number)")
        for name, url in (("BPC_LTI_ISSUER", self.issuer), ("BPC_LTI_AUTHORIZE_URL", self.authorize_url),
                          ("BPC_LTI_JWKS_URL", self.jwks_url)):
            parts = urlsplit(url)
            local = parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS
            if not parts.netloc or not (parts.scheme == "https" or local):
                raise ValueError(f"{name}={url!r}: give the LMS's https:// address (LTI 1.3 requires HTTPS)")
        if any(ch.isspace() or ch in "'\"" for ch in "".join(self.client_ids)):
            raise ValueError(f"BPC_LTI_CLIENT_IDS={','.join(self.client_ids)!r}: the ids, comma-separated, without "
                             "quotes or spaces")
        if any(ch.isspace() or ch in "'\"" for ch in self.username_claim):
            raise ValueError(f"BPC_LTI_USERNAME_CLAIM={self.username_claim!r}: a claim name, without quotes")


class NonceLedger:
    """The nonces of accepted launches, each kept until no launch carrying it could still be accepted.

    In the hub's memory (JupyterHub is one process): a restart forgets them, so a launch captured with its
    cookies just before a restart could be replayed within ``BPC_LTI_MAX_AGE`` after it.
    """

    def __init__(self, keep_seconds: float) -> None:
        self.keep_seconds = keep_seconds
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, nonce: str) -> bool:
        """Record ``nonce``; False when it was recorded before (a replayed launch)."""
        now = time.monotonic()
        with self._lock:
            self._seen = {n: t for n, t in self._seen.items() if now - t < self.keep_seconds}
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            return True


def _explain(error: BaseException) -> tuple[int, str]:
    """``(status, page text)`` for a launch the library refused with ``error``."""
    cause = error.__context__ if isinstance(error.__context__, jwt.PyJWTError) else error
    text = str(error)
    if isinstance(cause, jwt.ExpiredSignatureError) or "issued too long ago" in text:
        return 400, f"This launch from the LMS has expired (a launch is valid for a few minutes). {AGAIN}"
    if isinstance(cause, jwt.ImmatureSignatureError):
        return 400, f"This launch is dated in the future: the hub's clock and the LMS's disagree. {TELL}"
    if isinstance(cause, jwt.InvalidAudienceError) or "azp claim does not match" in text:
        return 401, ("This launch was made for another tool: its audience is not this hub's client id "
                     f"(BPC_LTI_CLIENT_IDS). {TELL}")
    if isinstance(cause, jwt.InvalidIssuerError):
        return 401, f"This launch comes from another LMS than the one this hub trusts (BPC_LTI_ISSUER). {TELL}"
    if isinstance(cause, jwt.PyJWKClientConnectionError):
        return 502, f"The hub could not read the LMS's public keys (BPC_LTI_JWKS_URL) to check this launch. {TELL}"
    if isinstance(cause, jwt.InvalidSignatureError | jwt.PyJWKClientError):
        return 401, ("This launch's signature does not match the LMS's public keys: it was not signed by the "
                     f"LMS this hub is registered with. {TELL}")
    if isinstance(cause, jwt.DecodeError):
        return 400, f"This launch's token cannot be read (it is not a signed JSON Web Token). {TELL}"
    return 400, f"The LMS's launch is not a valid LTI 1.3 launch ({text}). {TELL}"


_STATE_PROBLEMS = {  # the library's checks of the login's cookies -> what the student sees
    "OAuth state missing from cookies": "This launch was already used, or began in another browser or tab "
                                        "(or the browser blocked the hub's cookie).",
    "OAuth state mismatch": "This launch belongs to another login than this browser's.",
    "Missing nonce state cookie": "This launch was already used, or began in another browser or tab.",
    "OAuth nonce mismatch": "This launch belongs to another login than this browser's (its nonce differs).",
}


class CourseLaunchHandler(LTI13CallbackHandler):
    """The library's launch (callback) handler, with replay protection and pages that say what went wrong."""

    def decode_and_validate_launch_request(self) -> dict[str, Any]:
        try:
            id_token = super().decode_and_validate_launch_request()
        except ValidationError as e:
            status, text = _explain(e)
            raise HTTPError(status, text) from e
        except HTTPError as e:
            problem = _STATE_PROBLEMS.get(e.log_message or "")
            if problem is None:
                raise
            raise HTTPError(400, f"{problem} {AGAIN}") from e
        if not self.authenticator.ledger.first_use(str(id_token.get("nonce"))):
            raise HTTPError(400, f"This launch was already used (its nonce was seen before): a launch logs in "
                                 f"once. {AGAIN}")
        return id_token

    async def login_user(self, data: Any = None) -> Any:
        user = await super().login_user(data)
        if user is None and data:
            name = self.authenticator.get_username(data)
            raise HTTPError(403, f"The LMS user {name!r} is not on this course's list of students and "
                                 "instructors (BPC_STUDENTS, BPC_INSTRUCTORS). Ask the instructor to add your "
                                 "LMS id.")
        return user


class CourseLoginInitHandler(LTI13LoginInitHandler):
    """The library's login initiation; its cookies survive the LMS's cross-site POST; a bare visit is told where
    to start.

    The login's state and nonce cookies must come back with the LMS's form POST to the launch URL, a cross-site
    request: browsers send a cookie with it only if it says ``SameSite=None`` (and so ``Secure``, HTTPS only).
    """

    def post(self) -> None:
        if not self.get_argument("iss", "") and not self.get_argument("login_hint", ""):
            raise HTTPError(400, "This hub has no login page of its own: open the course from the LMS "
                                 "(Canvas or Moodle), whose link logs you in.")
        super().post()

    get = post

    def _set_oauth_cookie(self, key: str, value: Any) -> None:
        if self.authenticator.get_uri_scheme(self.request) != "https":  # plain HTTP: a trial on one machine
            super()._set_oauth_cookie(key, value)
            return
        self._set_cookie(key, value, expires_days=1, httponly=True, encrypted=True, secure=True, samesite="None")


class CourseLTI13Authenticator(LTI13Authenticator):
    """``LTI13Authenticator`` with the course's identity rule and replay protection (module docstring)."""

    login_handler = CourseLoginInitHandler
    callback_handler = CourseLaunchHandler

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ledger = NonceLedger(keep_seconds=2 * 3600)  # longer than any launch the validator accepts

    def get_username(self, token: dict[str, Any]) -> str:
        """The hub user name: the configured claim's value, as :func:`hub_student_id` makes it a student id."""
        claim = self.username_key or "sub"
        data, key = (token.get(LTI13_CUSTOM_CLAIM) or {}, claim[len("custom_"):]) if claim.startswith(
            "custom_") else (token, claim)
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value).strip() == "":
            raise LoginError(f"The LMS's launch carries no {claim!r}, the claim this hub names students by "
                             f"(BPC_LTI_USERNAME_CLAIM). {TELL}")
        try:
            return hub_student_id(str(value))
        except CourseError as e:
            raise LoginError(f"{e}. {TELL}") from e


def configure_lti(c: Any, lti: LtiSettings, allow_all: bool) -> None:
    """Make JupyterHub's configuration ``c`` log users in by LTI 1.3 launches from the LMS ``lti``.

    ``allow_all``: let in everyone the LMS launches (when the hub names no students itself).
    """
    c.JupyterHub.authenticator_class = CourseLTI13Authenticator
    c.LTI13Authenticator.issuer = lti.issuer
    c.LTI13Authenticator.client_id = set(lti.client_ids)
    c.LTI13Authenticator.authorize_url = lti.authorize_url
    c.LTI13Authenticator.jwks_endpoint = lti.jwks_url
    c.LTI13Authenticator.username_key = lti.username_claim
    c.LTI13Authenticator.tool_name = "backprop-course"
    c.LTI13LaunchValidator.max_age = lti.max_age
    c.LTI13LaunchValidator.time_leeway = 30  # the hub's and the LMS's clocks may differ a little
    if allow_all:
        c.Authenticator.allow_all = True
