"""The year's HTML report in a real headless browser: it renders, prints to PDF, and asks
the network for nothing (every request would reach a recording proxy; none may).

The screenshot and the PDF are left in the test artifacts (`$CIO_TEST_ARTIFACTS`, else
`test-artifacts/`) for a person to look at. Needs Debian's `chromium` package; without
the binary this test skips and says so.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.evidence.conftest import artifacts_dir

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# The browser's own services (update check, network time, account), which it calls
# whatever the page is: they are not the page's requests. The control test below shows
# that a request the page makes does reach the recorder.
BROWSER_SERVICES = ("update.googleapis.com", "accounts.google.com", "clients2.google.com")


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def _record(self) -> None:
        host = (self.path.split("://", 1)[-1]).split("/", 1)[0].split(":", 1)[0]
        if host not in BROWSER_SERVICES:
            self.seen.append(f"{self.command} {self.path}")
        self.send_response(502)
        self.end_headers()

    do_GET = do_POST = do_CONNECT = do_HEAD = _record

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def proxy():
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _chromium(browser: str, proxy_port: int, *args: str) -> None:
    subprocess.run(  # noqa: S603 (the browser found on PATH, fixed arguments)
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            # Every request the page makes (http, https, fonts) goes to the recorder.
            f"--proxy-server=http://127.0.0.1:{proxy_port}",
            "--proxy-bypass-list=<-loopback>",
            *args,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_the_html_report_renders_offline_in_a_browser(year_of_evidence, proxy):
    browser = _browser()
    if browser is None:
        pytest.skip(
            "no headless browser: install Debian's chromium package "
            "(apt-get install -y chromium) to render the HTML report"
        )
    out = artifacts_dir()
    page = out / "evidence-year.html"
    page.write_text(year_of_evidence.reports["html"], encoding="utf-8")
    screenshot, pdf = out / "evidence-year.png", out / "evidence-year.pdf"
    for stale in (screenshot, pdf):
        stale.unlink(missing_ok=True)
    port = proxy.server_address[1]
    url = page.resolve().as_uri()
    _chromium(browser, port, "--window-size=1280,2600", f"--screenshot={screenshot}", url)
    _chromium(browser, port, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", url)
    assert _Recorder.seen == []
    assert _png_size(screenshot) == (1280, 2600)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000


def test_the_recorder_sees_a_page_that_fetches(tmp_path, proxy):
    """The control: a page with an external image is caught (so an empty record means
    the report fetched nothing, not that the trap was open)."""
    browser = _browser()
    if browser is None:
        pytest.skip("no headless browser: install Debian's chromium package")
    page = tmp_path / "fetches.html"
    page.write_text('<html><body><img src="https://fonts.example.com/x.png"></body></html>')
    _chromium(browser, proxy.server_address[1], f"--screenshot={tmp_path / 'x.png'}", page.as_uri())
    assert any("fonts.example.com" in seen for seen in _Recorder.seen)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
