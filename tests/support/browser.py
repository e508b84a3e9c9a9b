"""Headless Chromium for the page tests: Debian's chromium (apt) driven by playwright (the
training extra), its flags, and the skip when either is missing. No app is imported here, so
a test of one page (training/review_app alone) needs nothing beyond what that page needs."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

try:
    from playwright import sync_api as playwright_api
except ImportError:  # the training extra is not installed: the browser tests skip, not fail
    playwright_api = None

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or playwright_api is None,
    reason="Debian's chromium and playwright (the training extra) are not installed")
expect = playwright_api.expect if playwright_api is not None else None


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless browser, closed afterwards."""
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
