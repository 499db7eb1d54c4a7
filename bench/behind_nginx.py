"""Trail behind Debian's nginx with a self-signed certificate (issue 23.3), as a new user
would run it: docs/deploy.md's nginx server blocks, word for word but for the certificate
paths and the upstream port, on ports 80 and 443 (needs root, like nginx itself).

    .venv/bin/python bench/behind_nginx.py

Starts Trail in embedded mode with `TRAIL_BASE_URL=https://analytics.example.com`,
`TRAIL_TRUSTED_PROXIES=127.0.0.1` and `TRAIL_HSTS_SECONDS=31536000` (bench/trail_proc.py),
nginx in front of it with a certificate made by `openssl`, then talks HTTPS to nginx from
three client addresses (127.0.0.2-127.0.0.4 on the loopback interface) and prints what
came back: the redirect to HTTPS, HSTS, the `Secure` flags of the CSRF and session
cookies, and the login lockout of one client while the others still sign in (also when
the locked client forges `X-Forwarded-For`). Every check ends in `ok` or `FAILED`; the
exit status is the number of failures.
"""

from __future__ import annotations

import http.client
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

from trail_proc import EMAIL, PASSWORD, Trail

HOST = "analytics.example.com"
LOCKED, OTHER, THIRD = "127.0.0.2", "127.0.0.3", "127.0.0.4"

NGINX_CONF = """
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{site}
}}
"""


def site_block(tmp: Path, upstream: int) -> str:
    """docs/deploy.md's nginx configuration, taken from the document itself."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "deploy.md").read_text()
    block = re.search(r"```nginx\n(.*?)```", text, re.S)
    assert block, "docs/deploy.md has no nginx block"
    return (
        block.group(1)
        .replace("/etc/ssl/certs/trail.pem", str(tmp / "trail.pem"))
        .replace("/etc/ssl/private/trail.key", str(tmp / "trail.key"))
        .replace("127.0.0.1:8000", f"127.0.0.1:{upstream}")
    )


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def cookies(self) -> SimpleCookie:
        jar: SimpleCookie = SimpleCookie()
        for line in self.headers.get_all("Set-Cookie") or []:
            jar.load(line)
        return jar


class Browser:
    """One client address, its cookies, HTTPS to nginx (the certificate checked against
    itself: it is self-signed)."""

    def __init__(self, source: str, cert: Path) -> None:
        self.source = source
        self.context = ssl.create_default_context(cafile=str(cert))
        self.context.check_hostname = False  # the name is not in DNS here; the chain is checked
        self.jar: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, **headers: str
    ) -> Answer:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", 443, context=self.context, source_address=(self.source, 0), timeout=30
        )
        head = {"Host": HOST, **{k.replace("_", "-"): v for k, v in headers.items()}}
        if self.jar:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            head["Content-Type"] = "application/x-www-form-urlencoded"
            head["Origin"] = f"https://{HOST}"
            head["Referer"] = f"https://{HOST}{path}"
        conn.request(method, path, body=body, headers=head)
        response = conn.getresponse()
        answer = Answer(response.status, response.headers, response.read().decode(errors="replace"))
        conn.close()
        for name, morsel in answer.cookies().items():
            self.jar[name] = morsel.value
        return answer

    def log_in(self, email: str, password: str) -> Answer:
        self.request("GET", "/accounts/login/")
        return self.request(
            "POST",
            "/accounts/login/",
            {"csrfmiddlewaretoken": self.jar["csrftoken"], "login": email, "password": password},
        )


def outcome(answer: Answer) -> str:
    """What a login attempt came to. allauth answers a locked-out attempt with the form
    again (200) and its message, without checking the password."""
    if answer.status == 302 and "sessionid" in answer.cookies():
        return "signed in"
    if "Too many failed login attempts" in answer.body:
        return "locked"
    return "wrong" if answer.status == 200 else str(answer.status)


FAILURES: list[str] = []


def check(what: str, ok: bool, seen: object) -> None:
    print(f"{'ok    ' if ok else 'FAILED'}  {what}: {seen}")
    if not ok:
        FAILURES.append(what)


def main() -> int:
    if not shutil.which("nginx"):
        raise SystemExit("nginx is not installed (apt-get install nginx)")
    tmp = Path(tempfile.mkdtemp(prefix="trail-nginx-"))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30"]
        + [
            "-subj",
            f"/CN={HOST}",
            "-keyout",
            str(tmp / "trail.key"),
            "-out",
            str(tmp / "trail.pem"),
        ],
        check=True,
        capture_output=True,
    )
    trail = Trail(
        extra_env={
            "TRAIL_BASE_URL": f"https://{HOST}",
            "TRAIL_TRUSTED_PROXIES": "127.0.0.1",
            "TRAIL_HSTS_SECONDS": "31536000",
        }
    )
    trail.prepare()
    trail.start()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, site=site_block(tmp, trail.port)))
    nginx = ["nginx", "-c", str(conf), "-e", str(tmp / "error.log")]
    subprocess.run([*nginx, "-t"], check=True, capture_output=True)
    subprocess.run(nginx, check=True)
    try:
        run(tmp / "trail.pem")
    finally:
        subprocess.run([*nginx, "-s", "stop"], check=False)
        trail.stop()
    print(f"{len(FAILURES)} failed")
    return len(FAILURES)


def run(cert: Path) -> None:
    plain = http.client.HTTPConnection("127.0.0.1", 80, timeout=10)
    plain.request("GET", "/sites/", headers={"Host": HOST})
    redirect = plain.getresponse()
    check(
        "plain HTTP is sent to HTTPS",
        redirect.status == 301 and redirect.getheader("Location") == f"https://{HOST}/sites/",
        f"{redirect.status} {redirect.getheader('Location')}",
    )

    first = Browser(OTHER, cert)
    page = first.request("GET", "/accounts/login/")
    hsts = page.headers.get("Strict-Transport-Security", "")
    check("HSTS on every HTTPS answer", "max-age=31536000" in hsts, hsts)
    csrf = page.cookies()["csrftoken"]
    check("the CSRF cookie is Secure", bool(csrf["secure"]), csrf.OutputString())
    signed_in = first.log_in(EMAIL, PASSWORD)
    session = signed_in.cookies().get("sessionid")
    check(
        "the session cookie is Secure and HttpOnly",
        session is not None and bool(session["secure"]) and bool(session["httponly"]),
        session.OutputString() if session else f"no session cookie ({signed_in.status})",
    )
    check(
        "signed in through the proxy",
        first.request("GET", "/sites/").status == 200,
        "GET /sites/ with the session",
    )

    attacker = Browser(LOCKED, cert)
    tries = [outcome(attacker.log_in(f"guess{n}@example.org", "wrong-password")) for n in range(12)]
    check(
        "one client's failed logins are limited (10 a minute)",
        tries == ["wrong"] * 10 + ["locked"] * 2,
        tries,
    )
    again = outcome(attacker.log_in(EMAIL, PASSWORD))
    check("the limited client is held off, even with the right password", again == "locked", again)
    forged = attacker.request(
        "GET", "/accounts/login/", X_Forwarded_For="203.0.113.9"
    )  # a forged first hop: nginx appends the real one, and only that is believed
    forged_login = outcome(
        attacker.request(
            "POST",
            "/accounts/login/",
            {
                "csrfmiddlewaretoken": attacker.jar["csrftoken"],
                "login": EMAIL,
                "password": PASSWORD,
            },
            X_Forwarded_For="203.0.113.9",
        )
    )
    check(
        "a forged X-Forwarded-For does not lift the limit",
        forged.status == 200 and forged_login == "locked",
        forged_login,
    )
    other = outcome(Browser(THIRD, cert).log_in(EMAIL, PASSWORD))
    check("every other client still signs in", other == "signed in", other)


if __name__ == "__main__":
    sys.exit(main())
