"""The shipped Streamlit configuration is safe by default (issue 12: the app listened on all interfaces)."""
from __future__ import annotations

import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"


def test_app_listens_on_loopback_only_and_keeps_streamlits_protections():
    server = tomllib.loads(CONFIG.read_text())["server"]
    assert server["address"] == "127.0.0.1"
    assert set(server["allowedHosts"]) <= {"localhost", "127.0.0.1", "::1"}
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert tomllib.loads(CONFIG.read_text())["browser"]["gatherUsageStats"] is False


def test_streamlit_knows_every_option_set():
    from streamlit import config

    for section, options in tomllib.loads(CONFIG.read_text()).items():
        for name in options:
            assert f"{section}.{name}" in config._config_options_template, f"{section}.{name}"
