"""leaderboard.html in a real headless Chromium: no console error, no request leaving the file, tables and
decoded images present. Driven through chromedriver's W3C WebDriver HTTP API with the standard library, so
the test needs Debian's `chromium` and `chromium-driver` packages but no Python dependency; skipped without them.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tcrbench.report.board import load_board
from tcrbench.report.merge import merge_boards
from tcrbench_plugins.reporters import HtmlReporter

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Chromium and its driver (Debian: apt-get install -y chromium chromium-driver)",
)]

INSPECT = """
return {
  tables: [...document.querySelectorAll('table')].map(t => [t.className, t.rows.length]),
  images: [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt]),
  scripts: document.scripts.length,
  text: document.body.innerText,
};
"""


class Browser:
    """One chromedriver process and one headless session, talking W3C WebDriver over localhost."""

    def __init__(self, user_data: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    raise RuntimeError("chromedriver did not start") from None
                time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={user_data}"]
        caps = {"browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args, "perfLoggingPrefs": {"enableNetwork": True}},
                "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"}}
        try:
            self.session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]
        except Exception:
            self.proc.kill()
            raise

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["value"]

    def open(self, path: Path) -> dict[str, Any]:
        """Load a file; return what the page holds, its console log and every URL it requested."""
        url = path.resolve().as_uri()
        self._call("POST", f"/session/{self.session}/url", {"url": url})
        page = self._call("POST", f"/session/{self.session}/execute/sync", {"script": INSPECT, "args": []})
        page["log"] = self._call("POST", f"/session/{self.session}/se/log", {"type": "browser"})
        requests = []
        for entry in self._call("POST", f"/session/{self.session}/se/log", {"type": "performance"}):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent" and message["params"].get("documentURL") == url:
                requests.append(message["params"]["request"]["url"])
        page["requests"] = requests
        return page

    def close(self) -> None:
        try:
            self._call("DELETE", f"/session/{self.session}")
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def _external(requests: list[str]) -> list[str]:
    return [u for u in requests if not (u.startswith("file://") or u.startswith("data:"))]


def test_the_harness_sees_console_errors_broken_images_and_requests(browser, tmp_path):
    """Without this, a harness that saw nothing would pass every page."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><table><tr><td>x</td></tr></table>'
                   '<img src="data:image/png;base64,AAAA" alt="broken"><img src="http://127.0.0.1:9/x.png" alt="far">'
                   '<script>console.error("boom")</script></body></html>')
    page = browser.open(bad)
    assert any('"boom"' in e["message"] and e["level"] == "SEVERE" for e in page["log"])
    assert [w for _, w, _, _ in page["images"]] == [0, 0]
    assert _external(page["requests"]) == ["http://127.0.0.1:9/x.png"]


def test_leaderboard_html_loads_cleanly(browser, tmp_path, make_run, specs, spec_type):
    grid = specs() + [spec_type('<script>console.error("pwned")</script>', "pretrained", "finetune", 1.2,
                                objective="clip", uses_labels=True)]
    run = make_run(tmp_path / "run", grid, fail=frozenset({("peptide_only", "baseline", 0, 0)}))
    [html_file] = HtmlReporter().write(load_board(run), run)
    page = browser.open(html_file)
    assert page["log"] == []
    assert _external(page["requests"]) == []
    assert page["scripts"] == 0
    sections = len({r.group for r in load_board(run).rows})  # a heading row per board section
    assert sections >= 2
    assert page["tables"] == [["board", 1 + sections + len(grid)], ["peptides", 4], ["failures", 2]]
    assert len(page["images"]) == 3
    assert all(complete and width > 300 and height > 150 for complete, width, height, _ in page["images"])
    assert '<script>console.error("pwned")</script>' in page["text"]  # shown as text, not run
    assert "uses labels" in page["text"] and "Per-peptide AUROC" in page["text"]


def test_merged_leaderboard_html_loads_cleanly(browser, tmp_path, make_run, specs):
    boards = [load_board(make_run(tmp_path / name, specs(pretrained_signal=s), source=name, seed=i))
              for i, (name, s) in enumerate([("A", 1.0), ("B", 1.4)])]
    [html_file] = HtmlReporter().write(merge_boards(boards), tmp_path / "merged")
    page = browser.open(html_file)
    assert page["log"] == [] and _external(page["requests"]) == []
    assert next(alt for *_, alt in page["images"]) == "Critical-difference diagram"
    assert all(complete and width > 0 for complete, width, _, _ in page["images"])
    assert [name for name, _ in page["tables"]].count("board") == 2 and page["tables"][0][0] == "ranking"
