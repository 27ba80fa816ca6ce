"""A simulated LMS, the LTI 1.3 *platform*, for the LMS launch test (tests/test_lti_launch.py).

It does what the LTI 1.3 core specification and the 1EdTech Security Framework give a platform to do, on
127.0.0.1 (a free port):

* it holds its own RSA key pair and serves the public half as a JSON Web Key Set (``/jwks``);
* it starts a launch with a third-party initiated OIDC login (``iss``, ``login_hint``, ``target_link_uri``,
  ``client_id``, ``lti_deployment_id`` and an ``lti_message_hint``, which it signs itself: the launch it
  stands for);
* its authorization endpoint (``/authorize``) checks the tool's authentication request (``response_type``
  ``id_token``, ``scope`` ``openid``, ``response_mode`` ``form_post``, ``prompt`` ``none``, the registered
  ``client_id`` and ``redirect_uri``, its own signed message hint) and answers with the self-submitting form
  that POSTs the signed ``id_token`` (an ``LtiResourceLinkRequest`` carrying the tool's ``nonce``) and the
  tool's ``state`` back to the tool.

:class:`Browser` is the student's browser (cookies, redirects, the form). :attr:`LtiPlatform.tweak` changes the
next id_token (claims, lifetime, signing key) for the launches a tool must refuse.
"""

from __future__ import annotations

import html
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["Browser", "LaunchForm", "LtiPlatform", "LtiUser", "Tweak"]

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ALG = "RS256"


@dataclass(frozen=True)
class LtiUser:
    """A person of the platform: ``sub`` is the platform's opaque id, ``custom`` its custom parameters."""

    sub: str
    name: str
    email: str
    custom: dict[str, str] = field(default_factory=dict)
    roles: tuple[str, ...] = ("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",)


@dataclass
class Tweak:
    """How the next id_token differs from a valid one (the default changes nothing)."""

    claims: dict[str, Any] = field(default_factory=dict)  # replace or add claims
    age: int = 0  # seconds the token was issued before now (exp stays iat + lifetime)
    lifetime: int = 300
    rogue_key: bool = False  # sign with a key the JWKS does not hold (under the JWKS's key id)


@dataclass(frozen=True)
class LaunchForm:
    """The platform's answer to the authentication request: the form the browser POSTs to the tool."""

    action: str
    fields: dict[str, str]


class LtiPlatform:
    """One LMS with one registered tool (``client_id``, ``deployment_id``, ``redirect_uri``)."""

    def __init__(self, client_id: str = "10000000000042", deployment_id: str = "7:course-1") -> None:
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.redirect_uri = ""  # set when the tool is registered (the tool's launch URL)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"platform-{uuid.uuid4().hex[:8]}"
        self.users: dict[str, LtiUser] = {}
        self.tweak = Tweak()
        self.jwks_requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ---- addresses the tool is configured with
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/authorize"

    def __enter__(self) -> LtiPlatform:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- what the platform publishes and signs
    def jwks(self) -> dict[str, Any]:
        """The public key set (RFC 7517), as ``/jwks`` serves it."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": ALG, "use": "sig"}]}

    def login_initiation(self, user: LtiUser, target_link_uri: str) -> dict[str, str]:
        """The third-party initiated login's parameters for ``user`` (the LMS has the browser POST them)."""
        self.users[user.sub] = user
        hint = jwt.encode({"sub": user.sub, "exp": int(time.time()) + 300, "aud": self.issuer}, self.key,
                          algorithm=ALG, headers={"kid": self.kid})
        return {"iss": self.issuer, "login_hint": user.sub, "target_link_uri": target_link_uri,
                "lti_message_hint": hint, "client_id": self.client_id, "lti_deployment_id": self.deployment_id}

    def id_token(self, user: LtiUser, nonce: str) -> str:
        """The signed launch (an ``LtiResourceLinkRequest``) for ``user``, changed as :attr:`tweak` says."""
        now = int(time.time()) - self.tweak.age
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.client_id, "sub": user.sub, "iat": now,
            "exp": now + self.tweak.lifetime, "nonce": nonce, "name": user.name, "email": user.email,
            CLAIM + "message_type": "LtiResourceLinkRequest", CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id, CLAIM + "target_link_uri": self.redirect_uri,
            CLAIM + "resource_link": {"id": "backprop-course-link"}, CLAIM + "roles": list(user.roles),
            CLAIM + "context": {"id": "course-1", "label": "BPC", "title": "Backpropagation"},
        }
        if user.custom:
            claims[CLAIM + "custom"] = dict(user.custom)
        claims.update(self.tweak.claims)
        key = self._rogue if self.tweak.rogue_key else self.key
        return jwt.encode(claims, key, algorithm=ALG, headers={"kid": self.kid})

    def authorize(self, params: dict[str, str]) -> LaunchForm:
        """Check the tool's authentication request (ValueError says what is wrong) and answer the launch."""
        expected = {"response_type": "id_token", "scope": "openid", "response_mode": "form_post",
                    "prompt": "none", "client_id": self.client_id, "redirect_uri": self.redirect_uri}
        for name, value in expected.items():
            if params.get(name) != value:
                raise ValueError(f"{name}={params.get(name)!r}, expected {value!r}")
        for name in ("nonce", "state", "login_hint"):
            if not params.get(name):
                raise ValueError(f"no {name}")
        hint = jwt.decode(params.get("lti_message_hint", ""), self.key.public_key(), algorithms=[ALG],
                          audience=self.issuer)
        if hint["sub"] != params["login_hint"]:
            raise ValueError("lti_message_hint is for another user than login_hint")
        user = self.users[params["login_hint"]]
        return LaunchForm(self.redirect_uri, {"id_token": self.id_token(user, params["nonce"]),
                                              "state": params["state"]})


def _handler_for(platform: LtiPlatform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/jwks":
                platform.jwks_requests += 1
                self._send(200, "application/json", json.dumps(platform.jwks()))
            elif path == "/authorize":
                try:
                    form = platform.authorize(dict(parse_qsl(query)))
                except (ValueError, KeyError, jwt.PyJWTError) as e:
                    self._send(400, "text/plain", f"authorization refused: {e}")
                    return
                self._send(200, "text/html", _form_page(form))
            else:
                self._send(404, "text/plain", "not found")

        def _send(self, status: int, kind: str, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _form_page(form: LaunchForm) -> str:
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in form.fields.items())
    return (f'<!doctype html><form id="launch" method="post" action="{html.escape(form.action)}">{inputs}</form>'
            '<script>document.getElementById("launch").submit()</script>')


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action") or ""
        elif tag == "input" and a.get("name"):
            self.fields[a["name"] or ""] = a.get("value") or ""


class Browser:
    """The student's browser: a cookie jar, redirects followed by hand, the platform's form submitted."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def start_launch(self, tool_login_url: str, initiation: dict[str, str]) -> LaunchForm:
        """POST the login initiation to the tool, follow it to the platform; the form the platform answers."""
        r = self.session.post(tool_login_url, data=initiation, allow_redirects=False, timeout=30)
        if r.status_code != 302:
            raise AssertionError(f"the tool answered the login initiation with {r.status_code}: {r.text[:500]}")
        page = self.session.get(r.headers["Location"], allow_redirects=False, timeout=30)
        if page.status_code != 200:
            raise AssertionError(f"the platform refused the authentication request: {page.text[:500]}")
        reader = _FormReader()
        reader.feed(page.text)
        return LaunchForm(reader.action, reader.fields)

    def submit(self, form: LaunchForm) -> requests.Response:
        """POST the platform's form to the tool (as its script does); the tool's answer, not followed."""
        return self.session.post(form.action, data=form.fields, allow_redirects=False, timeout=30)

    def copy(self) -> Browser:
        """Another browser holding this one's cookies (an attacker who captured them)."""
        other = Browser()
        other.session.cookies.update(self.session.cookies)
        return other
