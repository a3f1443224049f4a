"""Debian's Chromium, headless, driven by Selenium through Debian's ChromeDriver (both installed by .ci/run): the
browser the page tests look through, and what they measure in a page as a person sees it. Loaded as a pytest plugin
by the page tests (`pytest_plugins`); scripts/screenshots.py starts it the same way.

Without Chromium the tests fail, naming what to install; a developer without it may set PERF_NO_BROWSER=1 to skip
them instead (CI never does)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PERF_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PERF_CHROMEDRIVER", "/usr/bin/chromedriver")
WIDTH, HEIGHT = 1280, 900
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")


def missing() -> str | None:
    """Why the browser cannot start here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            return (f"{path} is missing: apt-get install -y chromium chromium-driver (.ci/run does; {package}), or "
                    f"set PERF_NO_BROWSER=1 to skip the page tests")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


def start(profile: Path, width: int = WIDTH, height: int = HEIGHT):
    """A headless Chromium of this window size, its profile in `profile`, no network needed."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium 1280 px wide for the session's page tests."""
    problem = missing()
    if problem:
        if os.environ.get("PERF_NO_BROWSER") == "1":
            pytest.skip(problem)
        pytest.fail(problem)
    profile = Path(tempfile.mkdtemp(prefix="perf-chromium-"))
    driver = start(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
