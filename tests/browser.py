"""A headless Chromium for the tests that drive HTML pages, with the network off.

Shared by the explorer tests. `chromium_driver()` returns a selenium WebDriver,
or calls pytest.skip when selenium, Chromium or chromedriver is missing on
this machine (CI installs them: scripts/setup.sh). Pages are loaded from disk
(file://); the network is cut twice over: a proxy to a dead loopback port
with every host name resolving nowhere, and DevTools' offline emulation.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--window-size=1400,900",
)


def chromium_driver(tmp_dir: Path) -> Any:
    """A headless Chromium with a fresh profile under tmp_dir, offline; skips if unavailable."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[browser]')")
    binary = next((shutil.which(b) for b in CHROMIUM if shutil.which(b)), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip(
            "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_dir)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
    )
    return driver


def console_errors(driver: Any) -> list[str]:
    """The browser console's errors (and warnings about the page) since the last call."""
    return [
        e["message"] for e in driver.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")
    ]
