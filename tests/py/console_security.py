"""Acceptance 3 of the admin console, with `requests` verifying the console's certificate
against the cloud's (KEYS/cloud-cert.pem): plain HTTP is refused; cookies and headers carry
their security flags; an ordinary user gets 403 on the administrator's pages and cannot
read or change another account; a POST without its CSRF token, or with a wrong one, is
refused and changes nothing; sign-out ends the session; the sixth wrong password in a
minute is throttled with 429 even when it is the right one.

Usage (run by tests/console_security.rs): console_security.py CONSOLE_URL CLOUD_CERT ADMIN_PASSWORD
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import re
import sys

import requests

from cloud_clients import ok

USER_PASSWORD = "acme-dev-password"


class Console:
    """A browser-like client of the console: one session cookie, the page's CSRF token."""

    def __init__(self, base, cert):
        self.base = base.rstrip("/")
        # Given with each request: a Session's own `verify` loses to REQUESTS_CA_BUNDLE.
        self.cert = cert
        self.http = requests.Session()

    def get(self, path):
        return self.http.get(self.base + path, allow_redirects=False, verify=self.cert, timeout=30)

    def post(self, path, data):
        return self.http.post(self.base + path, data=data, allow_redirects=False, verify=self.cert, timeout=30)

    def sign_in(self, account, user, password):
        return self.post("/signin", {"account": account, "user": user, "password": password})

    def csrf(self, path="/"):
        page = self.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text)
        found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
        assert found, page.text
        return found.group(1)

    def act(self, path, fields):
        """A form's POST with this session's CSRF token; must redirect back (303)."""
        answer = self.post(path, dict(fields, csrf=self.csrf(path)))
        assert answer.status_code == 303, (path, fields, answer.status_code, answer.text)
        return answer


def plain_http_and_tls(base, cert):
    plain = base.replace("https://", "http://")
    try:
        answer = requests.get(plain, timeout=10)
    except requests.exceptions.ConnectionError:
        pass
    else:
        raise AssertionError("plain HTTP was answered: %s %r" % (answer.status_code, answer.text[:200]))
    try:
        requests.get(base + "signin", timeout=10)
    except requests.exceptions.SSLError:
        pass
    else:
        raise AssertionError("the console's certificate verified without the cloud's")
    assert requests.get(base + "signin", verify=cert, timeout=10).status_code == 200
    ok("plain HTTP is refused; the certificate verifies against cloud-cert.pem only")


def headers_and_cookie(admin, password):
    page = admin.get("/signin")
    h = page.headers
    assert h["Strict-Transport-Security"].startswith("max-age="), h
    assert "default-src 'self'" in h["Content-Security-Policy"], h
    assert h["X-Frame-Options"] == "DENY" and h["Cache-Control"] == "no-store", h
    answer = admin.sign_in("admin", "admin", password)
    assert answer.status_code == 303 and answer.headers["Location"] == "/", answer.headers
    cookie = answer.headers["Set-Cookie"]
    flags = [f.strip() for f in cookie.split(";")]
    name, value = flags[0].split("=", 1)
    assert name == "euca_session" and re.fullmatch("[0-9a-f]{64}", value), cookie
    assert {"Secure", "HttpOnly", "SameSite=Strict", "Path=/"} <= set(flags), cookie
    ok("security headers on every page; the session cookie is Secure, HttpOnly, SameSite=Strict")


def accounts_exist(admin):
    """acme with user dev (a password), other with user secret-keeper."""
    admin.act("/accounts", {"action": "create", "name": "acme"})
    admin.act("/accounts", {"action": "create", "name": "other"})
    admin.act("/users", {"action": "create", "account": "acme", "name": "dev"})
    admin.act("/users", {"action": "password", "account": "acme", "name": "dev", "password": USER_PASSWORD})
    admin.act("/users", {"action": "create", "account": "other", "name": "secret-keeper"})


def csrf_refused(admin):
    before = admin.get("/accounts").text
    for fields in ({}, {"csrf": "0" * 64}, {"csrf": admin.csrf()[:-1]}):
        answer = admin.post("/accounts", dict(fields, action="create", name="evil"))
        assert answer.status_code == 403, (fields, answer.status_code, answer.text)
    answer = admin.post("/signout", {})
    assert answer.status_code == 403, answer.status_code
    after = admin.get("/accounts")
    assert after.status_code == 200 and "evil" not in after.text and "evil" not in before
    ok("a POST without its CSRF token, or with a wrong one, is refused (403) and changes nothing")


def ordinary_user(user, admin):
    assert user.get("/users").status_code == 303, "no session: to the sign-in page"
    assert user.sign_in("acme", "dev", USER_PASSWORD).status_code == 303
    for path in ("/accounts", "/accounts/other", "/accounts/admin"):
        answer = user.get(path)
        assert answer.status_code == 403, (path, answer.status_code)
    for path in ("/users", "/groups", "/policies", "/quotas"):
        page = user.get(path + "?account=other")
        assert page.status_code == 200, (path, page.status_code)
        assert 'id="account">acme<' in page.text and "secret-keeper" not in page.text, page.text
    own = user.get("/accounts/acme")
    assert own.status_code == 200 and "dev" in own.text
    ok("an ordinary user gets 403 on admin pages and sees only their own account")

    token = user.csrf("/users")
    attempts = [
        ("/users", {"action": "create", "account": "other", "name": "intruder"}),
        ("/users", {"action": "create", "name": "intruder"}),
        ("/users", {"action": "delete", "account": "other", "name": "secret-keeper"}),
        ("/quotas", {"action": "set", "resource": "instances", "limit": "99"}),
        ("/accounts", {"action": "disable", "name": "other"}),
        ("/groups", {"action": "create", "name": "mine"}),
    ]
    for path, fields in attempts:
        answer = user.post(path, dict(fields, csrf=token))
        assert answer.status_code == 403, (path, fields, answer.status_code)
    others = admin.get("/users?account=other").text
    assert "secret-keeper" in others and "intruder" not in others
    assert "intruder" not in admin.get("/users?account=acme").text
    ok("an ordinary user's changes to their account or another are refused (403)")

    answer = user.post("/signout", {"csrf": user.csrf("/")})
    assert answer.status_code == 303 and answer.headers["Location"] == "/signin", answer.headers
    assert user.get("/").status_code == 303, "signed out: the old cookie is worth nothing"
    ok("sign-out ends the session")


def throttled(client):
    for attempt in range(5):
        answer = client.sign_in("acme", "dev", "wrong-password-%d" % attempt)
        assert answer.status_code == 401, (attempt, answer.status_code)
    answer = client.sign_in("acme", "dev", USER_PASSWORD)
    assert answer.status_code == 429, answer.status_code
    assert "Too many failed sign-ins" in answer.text and "Set-Cookie" not in answer.headers, answer.text
    ok("the sixth sign-in within a minute of five failures is throttled (429), right password or not")


def main(base, cert, password):
    plain_http_and_tls(base, cert)
    admin = Console(base, cert)
    headers_and_cookie(admin, password)
    accounts_exist(admin)
    csrf_refused(admin)
    ordinary_user(Console(base, cert), admin)
    throttled(Console(base, cert))


if __name__ == "__main__":
    main(*sys.argv[1:4])
