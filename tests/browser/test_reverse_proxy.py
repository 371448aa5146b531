"""The shipped nginx site (deploy/nginx/lexdora.conf) run in front of the app: TLS redirect, security headers,
the WebSocket through the proxy, and a log-in in Chromium that the Content-Security-Policy does not break.

The site file runs as shipped except for what a test machine must change: listening ports, a throwaway
self-signed certificate and the app's port. Skipped only when nginx is not installed (`.ci/run` installs it).
"""
from __future__ import annotations

import base64
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from app.ui.session import _PAGES
from tests.browser.conftest import _free_port
from tests.browser.test_review_flow import log_in, wait_idle
from tests.conftest import ROOT

SITE = ROOT / "deploy" / "nginx" / "lexdora.conf"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx; .ci/run does)")]

# What a test machine changes in the shipped site; each must occur exactly once, or the site and this
# test have drifted apart.
PORTS_AND_PATHS = ("listen 80;", "listen 443 ssl;", "/etc/ssl/certs/contracts.example.com.pem",
                   "/etc/ssl/private/contracts.example.com.key", "http://127.0.0.1:8501")


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def _site_for_this_machine(http_port: int, https_port: int, cert: Path, key: Path, app_port: int) -> str:
    text = SITE.read_text()
    replacements = dict(zip(PORTS_AND_PATHS, (
        f"listen 127.0.0.1:{http_port};", f"listen 127.0.0.1:{https_port} ssl;", str(cert), str(key),
        f"http://127.0.0.1:{app_port}")))
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} should occur once in {SITE}"
        text = text.replace(old, new)
    return text


def _nginx_conf(prefix: Path, site: Path) -> str:
    """The main file a distribution ships, cut down: everything in the prefix folder, in the foreground."""
    temp_paths = "".join(f"    {kind}_temp_path {prefix / kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # Run as root (CI), nginx would hand its workers to `nobody`, who cannot write the temp folders here.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
            f"error_log {prefix / 'error.log'} warn;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    access_log {prefix / 'access.log'};\n{temp_paths}    include {site};\n}}\n")


@pytest.fixture(scope="module")
def proxy(app_url, tmp_path_factory):
    """https://127.0.0.1:PORT of nginx running the shipped site in front of the app; also its http port."""
    prefix = tmp_path_factory.mktemp("nginx")
    cert, key = _self_signed_certificate(prefix)
    http_port, https_port = _free_port(), _free_port()
    site = prefix / "lexdora.conf"
    site.write_text(_site_for_this_machine(http_port, https_port, cert, key, urlparse(app_url).port))
    conf = prefix / "nginx.conf"
    conf.write_text(_nginx_conf(prefix, site))
    # -e: nginx opens its default error log before reading the configuration unless told otherwise.
    command = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_proxied(https_port, proc)
        yield {"https": f"https://127.0.0.1:{https_port}", "http_port": http_port, "https_port": https_port}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _wait_until_proxied(https_port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            if _get(https_port, "/_stcore/health").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)  # polling a server that is starting: no event to wait on
    raise RuntimeError("nginx did not answer over HTTPS within 30 s")


def _insecure_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's own throwaway certificate
    return context


def _get(port: int, path: str, tls: bool = True, host: str | None = None) -> http.client.HTTPResponse:
    conn = (http.client.HTTPSConnection("127.0.0.1", port, context=_insecure_tls(), timeout=10) if tls
            else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
    conn.request("GET", path, headers={"Host": host} if host else {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_plain_http_is_sent_to_https_for_the_same_path(proxy):
    response = _get(proxy["http_port"], "/review?contract=3", tls=False, host="contracts.example.com")
    assert response.status == 301
    assert response.getheader("Location") == "https://contracts.example.com/review?contract=3"


@pytest.mark.parametrize("path", ["/", "/_stcore/health", "/no-such-page/static/x.js"])
def test_every_https_response_carries_the_security_headers(proxy, path):
    response = _get(proxy["https_port"], path)
    assert response.status in (200, 404)
    assert re.fullmatch(r"max-age=(\d+); includeSubDomains", response.getheader("Strict-Transport-Security"))
    assert int(re.search(r"\d+", response.getheader("Strict-Transport-Security")).group()) >= 180 * 86400
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Referrer-Policy") == "same-origin"
    csp = dict(d.strip().split(" ", 1) for d in response.getheader("Content-Security-Policy").split(";"))
    assert csp["frame-ancestors"] == "'none'" and csp["default-src"] == "'self'" and csp["object-src"] == "'none'"
    assert "'unsafe-inline'" not in csp["script-src"].split() and "'unsafe-eval'" not in csp["script-src"].split()
    assert response.getheader("Server") == "nginx"  # server_tokens off: no version


def _websocket_handshake(https_port: int, origin: str) -> str:
    """The status line and headers nginx returns for a WebSocket upgrade of Streamlit's stream."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1:{https_port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Origin: {origin}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", https_port), timeout=10) as raw, \
            _insecure_tls().wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = tls.recv(4096)
            if not chunk:
                break
            head += chunk
    return head.decode("latin-1")


def test_the_websocket_upgrades_through_the_proxy_for_the_apps_own_origin(proxy):
    head = _websocket_handshake(proxy["https_port"], origin=proxy["https"])
    assert head.startswith("HTTP/1.1 101"), head
    assert re.search(r"^upgrade: websocket\r$", head, re.I | re.M), head


def test_the_proxy_passes_a_foreign_origin_on_so_the_app_still_refuses_it(proxy):
    head = _websocket_handshake(proxy["https_port"], origin="https://evil.example")
    assert not head.startswith("HTTP/1.1 101"), head


# Collects what the browser reports: the event fires for every blocked load, inline script or style.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
    e => window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`));
"""


def test_chromium_logs_in_through_the_proxy_and_opens_every_page_with_no_csp_violation(proxy, browser):
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1400, "height": 1000})
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(60_000)
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        page.goto(proxy["https"])
        log_in(page, "admin")  # the admin sees every page of the app
        violations = [f"log-in: {v}" for v in page.evaluate("window.__cspViolations.splice(0)")]
        for n, (path, title, _, _) in enumerate(_PAGES):
            page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
            expect(page).to_have_url(re.compile(rf"/{Path(path).stem if n else ''}$"))  # the first page is /
            wait_idle(page)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            violations += [f"{title}: {v}" for v in page.evaluate("window.__cspViolations.splice(0)")]
        page.locator(".st-key-logout button").click()  # releases the clause the review page claimed
        expect(page.locator(".st-key-login_username input")).to_be_visible()
    finally:
        context.close()
    assert violations == [], "\n".join(violations)
    assert [line for line in console if "Content Security Policy" in line] == [], "\n".join(console)
