"""The shipped nginx site's Content-Security-Policy against the installed Streamlit, without running nginx.

tests/browser/test_reverse_proxy.py runs the site in front of the app; this check runs everywhere and says
which hash to put in the site when a Streamlit upgrade changes its inline script.
"""
from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import streamlit

from tests.conftest import ROOT

SITE = ROOT / "deploy" / "nginx" / "lexdora.conf"


def _csp() -> dict[str, list[str]]:
    value = re.search(r'add_header Content-Security-Policy "([^"]+)" always;', SITE.read_text()).group(1)
    return {d.split()[0]: d.split()[1:] for d in value.split(";")}


def test_every_inline_script_of_streamlits_page_is_allowed_by_its_hash():
    index = Path(streamlit.__file__).parent / "static" / "index.html"
    scripts = re.findall(r"<script>(.*?)</script>", index.read_text(), re.S)
    assert scripts, "Streamlit's page has no inline script any more: drop its hash from the site"
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in _csp()["script-src"], f"add 'sha256-{digest}' to script-src in {SITE}"


def test_the_session_cookie_script_is_allowed_by_its_hash():
    from app.ui.session import COOKIE_SCRIPT, _cookie_script

    digest = base64.b64encode(hashlib.sha256(COOKIE_SCRIPT.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in _csp()["script-src"], f"add 'sha256-{digest}' to script-src in {SITE}"
    # the token travels in an attribute, so the script's text (and hash) is the same for every log-in
    one, two = _cookie_script("a" * 43, 3600), _cookie_script("b" * 43, 3600)
    assert one.split("<script>")[1] == two.split("<script>")[1] == COOKIE_SCRIPT + "</script>"


def test_the_policy_allows_no_inline_or_evaluated_script_and_no_framing():
    csp = _csp()
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    # Nothing is loaded from another host: only 'self', data:/blob: and the WebSocket back to the app.
    sources = [s for directive in csp.values() for s in directive]
    assert [s for s in sources if "://" in s] == ["wss://$host"]


def test_the_readme_points_to_the_site_instead_of_copying_it():
    readme = (ROOT / "README.md").read_text()
    assert "deploy/nginx/lexdora.conf" in readme
    assert "add_header Content-Security-Policy" not in readme
