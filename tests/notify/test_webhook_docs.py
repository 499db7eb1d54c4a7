"""The verification code in docs/webhooks.md, run as a receiver would paste it, against
real signed deliveries from Trail: it accepts them and refuses a changed body, another
secret, an old timestamp and a mangled header."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from common.outbound import sign
from notify.channels import send
from notify.messages import Message
from sites.models import Site
from tests.notify.conftest import Receiver

pytestmark = pytest.mark.usefixtures("private_allowed")

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = "whsec_docs_ünïcode"  # a secret is text; its UTF-8 bytes key the HMAC


def _snippet(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1, f"expected one {language} block in {DOC.name}"
    return str(blocks[0])


def _delivered(site: Site, receiver: Receiver) -> tuple[bytes, str]:
    message = Message(
        event="alert.fired",
        subject="Visitors above 3",
        text="5 visitors",
        data={"value": 5, "note": "naïve ✓"},
    )
    send(site, {"type": "webhook", "url": receiver.url, "secret": SECRET}, message, source="test")
    [request] = receiver.requests
    return request.body, request.headers["X-Trail-Signature"]


def _cases(body: bytes, header: str) -> list[tuple[str, bytes, str, bool]]:
    old = sign(SECRET, body, int(time.time()) - 3600)
    return [
        (SECRET, body, header, True),
        (SECRET, body + b"\n", header, False),
        (SECRET, body.replace(b"5", b"6"), header, False),
        ("another secret", body, header, False),
        (SECRET, body, old, False),
        (SECRET, body, "", False),
        (SECRET, body, "t=abc,v1=00", False),
        (SECRET, body, header.split(",")[0], False),
        (SECRET, body, header.replace("v1=", "v1=0"), False),
    ]


def test_the_python_snippet_verifies_a_real_delivery(site: Site, receiver: Receiver) -> None:
    namespace: dict[str, object] = {}
    exec(compile(_snippet("python"), str(DOC), "exec"), namespace)  # noqa: S102 (the doc's own code)
    verify = namespace["verify_trail_signature"]
    assert callable(verify)
    body, header = _delivered(site, receiver)
    for secret, sent, signature, expected in _cases(body, header):
        assert verify(secret, sent, signature) is expected, (sent[:40], signature)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_snippet_verifies_a_real_delivery(
    site: Site, receiver: Receiver, tmp_path: Path
) -> None:
    (tmp_path / "verify.js").write_text(_snippet("js"))
    (tmp_path / "run.js").write_text(
        "const { verifyTrailSignature } = require('./verify.js');\n"
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        "console.log(JSON.stringify(cases.map(([secret, body, header]) =>\n"
        "  verifyTrailSignature(secret, Buffer.from(body, 'base64'), header))));\n"
    )
    body, header = _delivered(site, receiver)
    cases = _cases(body, header)
    given = [
        [secret, base64.b64encode(sent).decode(), signature] for secret, sent, signature, _ in cases
    ]
    done = subprocess.run(  # noqa: S603 (node and a file this test wrote)
        [str(shutil.which("node")), "run.js"],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
        check=True,
    )
    assert json.loads(done.stdout) == [expected for *_, expected in cases]
