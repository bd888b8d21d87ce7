"""The HTML export opened in a real browser: headless Chromium (installed by ``.ci/run``)
lays the page out, and the tests look at the DOM it built and at a screenshot of it.

Skipped with a reason when no Chromium is installed (``apt-get install chromium``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .render_corpus import rendered

pytestmark = pytest.mark.corpus

PHONE = (412, 915)  # CSS pixels of a common phone screen
USER_BLUE = (9, 105, 218)  # --user in the light theme: the border of each prompt


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine (apt-get install chromium); .ci/run installs it")


def run_chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-prefers-reduced-motion",
        "--blink-settings=preferredColorScheme=1",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
        page.as_uri(),
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    return subprocess.run(command, capture_output=True, timeout=120, env=env, check=True)


@pytest.fixture
def page(corpus, tmp_path) -> Path:
    path = tmp_path / "session.html"
    path.write_text(rendered(corpus, "claude-parallel", "html"), encoding="utf-8")
    return path


def test_the_dom_chromium_builds_has_the_contents_closed_folds_and_nested_sub_agents(page, tmp_path):
    dom = run_chromium(tmp_path, page, "--dump-dom").stdout.decode("utf-8")
    assert '<nav class="toc"' in dom and dom.count('href="#prompt-') >= 1
    folds = dom.count("<details")
    assert folds > 10
    assert " open=" not in dom and "<details open" not in dom  # every fold closed
    assert dom.count('<details class="subagent">') == 3


def test_a_phone_screenshot_shows_a_laid_out_page(page, tmp_path):
    from PIL import Image

    shot = tmp_path / "phone.png"
    run_chromium(tmp_path, page, f"--screenshot={shot}", f"--window-size={PHONE[0]},{PHONE[1]}")
    image = Image.open(shot).convert("RGB")
    assert image.size == PHONE
    colours = image.getcolors(maxcolors=1 << 16) or []
    assert len(colours) > 20  # text was drawn, not a blank page
    # The page fits the phone's width: nothing is drawn in a horizontal scroll region,
    # and the blue bar of the first prompt is on screen below the table of contents.
    pixels = image.load()
    blue = [(x, y) for y in range(0, PHONE[1], 2) for x in range(60) if _near(pixels[x, y], USER_BLUE)]
    assert blue, "no prompt bar on the first screen"
    top = min(y for _, y in blue)
    toc_rows = [y for y in range(top) if _near(pixels[PHONE[0] // 2, y], (246, 248, 250))]
    assert toc_rows, "the table of contents (grey box) is not above the first prompt"


def _near(pixel, colour, tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))
