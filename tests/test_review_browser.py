"""The review page in a real browser: headless Chromium (Debian's chromium and
chromium-driver, installed by `make test`), driven with selenium. The thumbnails load, the
counts match the report, the filters and keys work, and the page asks the network for
nothing. A screenshot goes to out/test-artifacts/review.png."""
from __future__ import annotations

import json
import shutil
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
    browser.find_element(By.CSS_SELECTOR, "button[data-filter=near]").click()
    with_near = sum(bool(r["candidates"]) for r in records)
    visible = [f for f in files if f.is_displayed()]
    assert len(visible) == with_near and all(f.get_attribute("data-near") for f in visible)
    keys = ActionChains(browser)  # typed where the focus is, as a person types
    keys.send_keys("2").perform()  # errors only
    assert [f.get_attribute("id") for f in files if f.is_displayed()] == [files[0].get_attribute("id")]
    keys.send_keys("1").perform()
    keys.send_keys("j").perform()
    keys.send_keys("j").perform()
    assert browser.switch_to.active_element.get_attribute("id") == files[1].get_attribute("id")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "review.png"))
    requested = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requested if m["method"] == "Network.requestWillBeSent"]
    assert urls and all(url.startswith("file://") for url in urls), urls
