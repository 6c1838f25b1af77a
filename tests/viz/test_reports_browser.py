"""Every HTML report opened in a real headless Chromium (selenium): it draws without a
console error, requests nothing outside the file, shows the right numbers, reacts to
clicks and its audio decodes. Each test also takes a screenshot of its page; with
DEEP_AUDIO_SCREENSHOTS=1 they replace docs/report_*.png (those linked from docs/reports.md).

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from deep_audio.viz import read_page_data
from tests.conftest import REPO
from tests.viz.helpers import (
    make_evaluation,
    make_feature_space,
    make_multilabel,
    make_spectrogram,
    make_timeline,
    misfiled_folders,
)

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver",
                                reason="selenium is not installed (pip install -e '.[test]')")
pytestmark = [pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver: "
           "apt-get install -y chromium chromium-driver"),
    pytest.mark.slow]  # a browser starts for each test

DOCS = REPO / "docs"
# Flags that keep Chromium off the network it would otherwise call home to.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--mute-audio",
                  "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1000"]


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, script: str, *, timeout: float = 20.0):
    """Run ``script`` (a JS expression) until it is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(f"return ({script});")
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {script}")
        time.sleep(0.1)


def open_report(driver, path: Path, n_figures: int) -> None:
    driver.set_window_size(1280, 1000)
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get_log("performance")
    driver.get(path.as_uri())
    wait_for(driver, f"document.querySelectorAll('.js-plotly-plot').length >= {n_figures}")


def assert_clean(driver) -> None:
    """No console error, and nothing fetched but the file itself and data:/blob: URLs."""
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(("data:", "blob:", "file:")) for url in resources), resources
    requested = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    assert requested, "the network log is empty: it would hide requests too"
    assert all(url.startswith(("data:", "blob:", "file:")) for url in requested), requested


def click_data_point(driver, div_id: str, x, y) -> None:
    """A real mouse click where the data point (x, y) of the plot's first axes is drawn."""
    from selenium.webdriver.common.action_chains import ActionChains

    dx, dy = driver.execute_script("""
        const gd = document.getElementById(arguments[0]);
        const layout = gd._fullLayout, xa = layout.xaxis, ya = layout.yaxis;
        const box = gd.getBoundingClientRect();
        const px = xa._offset + xa.l2p(xa.d2l(arguments[1]));
        const py = ya._offset + ya.l2p(ya.d2l(arguments[2]));
        return [px - box.width / 2, py - box.height / 2];""", div_id, x, y)
    element = driver.find_element("id", div_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    ActionChains(driver).move_to_element_with_offset(element, int(dx), int(dy)).pause(0.2) \
        .click().perform()


def assert_audio_decodes(driver, selector: str) -> int:
    """Every <audio> matching ``selector`` loads its metadata with a duration > 0."""
    count = driver.execute_script(f"return document.querySelectorAll('{selector}').length")
    assert count > 0
    wait_for(driver, f"""Array.from(document.querySelectorAll('{selector}')).every(
        a => a.readyState >= 1 || a.error)""")
    states = driver.execute_script(f"""return Array.from(document.querySelectorAll(
        '{selector}')).map(a => [a.duration, a.error && a.error.message]);""")
    assert all(error is None and duration > 0 for duration, error in states), states
    return count


def screenshot(driver, name: str, folder: Path) -> None:
    """A PNG of the whole page (height capped), into ``folder``; also into docs/ as
    report_<name>.png with DEEP_AUDIO_SCREENSHOTS=1 (not by default: a test run would
    otherwise change tracked files in every checkout)."""
    height, chrome = driver.execute_script(
        "return [document.documentElement.scrollHeight, outerHeight - innerHeight]")
    driver.set_window_size(1280, min(max(height + chrome + 20, 800), 2600))
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.5)  # plotly resizes responsive figures on the window's resize event
    path = folder / f"report_{name}.png"
    assert driver.save_screenshot(str(path)) and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("DEEP_AUDIO_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / path.name)


def test_evaluation_report_in_a_browser(browser, trained, dataset, tmp_path):
    folders = misfiled_folders(dataset, tmp_path / "data")
    path = make_evaluation(trained, folders, tmp_path / "eval.html")
    data = read_page_data(path)
    open_report(browser, path, 2)
    # The drawn confusion matrix shows the counts of the data, cell by cell.
    texts = browser.execute_script("""return Array.from(document.querySelectorAll(
        '#confusion g.heatmap-label text')).map(t => t.textContent);""")
    expected = [str(v) for row in data["confusion"] for v in row]
    assert sorted(texts) == sorted(expected) and len(texts) == len(expected)
    # The mistakes, most confident first: the three misfiled files.
    mistakes = browser.execute_script("""return Array.from(document.querySelectorAll(
        '#mistakes tr.file-row')).map(r => [r.cells[0].textContent, r.cells[3].textContent]);""")
    assert sorted(name for name, _ in mistakes) == ["low/noise_0.ogg", "low/noise_1.ogg",
                                                   "noise/high_0.flac"]
    confidence = [float(value) for _, value in mistakes]
    assert confidence == sorted(confidence, reverse=True)
    assert_audio_decodes(browser, "#mistakes audio")
    names = data["class_names"]
    assert data["confusion"][0][2] == 2  # true low, predicted noise
    for true_index, pred_index in [(0, 0), (2, 2), (0, 2)]:
        click_data_point(browser, "confusion", names[pred_index], names[true_index])
        heading = wait_for(browser, "document.getElementById('cell-heading') && "
                                    "document.getElementById('cell-heading').textContent")
        count = data["confusion"][true_index][pred_index]
        assert heading == (f"true {names[true_index]}, predicted {names[pred_index]}: "
                           f"{count} file(s)")
        shown = browser.execute_script("""return Array.from(document.querySelectorAll(
            '#cell-files tr.file-row')).map(r => r.cells[0].textContent);""")
        assert shown == [data["files"][i]["name"] for i in data["cells"][true_index][pred_index]]
        assert assert_audio_decodes(browser, "#cell-files audio") == count
    # A file's detail: its spectrogram and one posterior curve per class.
    browser.find_element("css selector", "#cell-files tr.file-row td").click()
    wait_for(browser, "document.getElementById('detail').data")
    traces = browser.execute_script(
        "return document.getElementById('detail').data.map(t => t.type)")
    assert traces == ["heatmap"] + ["scatter"] * len(names)
    assert_audio_decodes(browser, "#detail-audio audio")
    # The normalised view: every row's shares add up to 1.
    browser.execute_script("window.scrollTo(0, 0)")
    buttons = browser.find_elements("css selector", "#confusion g.updatemenu-button")
    buttons[1].click()
    wait_for(browser, "document.getElementById('confusion').data[0].text[0][0].includes('.')")
    shares = browser.execute_script("return document.getElementById('confusion').data[0].z")
    assert all(abs(sum(row) - 1) < 1e-3 for row in shares)
    buttons[0].click()
    screenshot(browser, "evaluation", tmp_path)
    assert_clean(browser)


def test_linked_audio_decodes_in_a_browser(browser, trained, dataset, tmp_path):
    path = make_evaluation(trained, dataset["test"], tmp_path / "linked.html", link_audio=True)
    open_report(browser, path, 2)
    names = read_page_data(path)["class_names"]
    click_data_point(browser, "confusion", names[1], names[1])
    assert assert_audio_decodes(browser, "#cell-files audio") > 0
    assert_clean(browser)


def test_training_report_in_a_browser(browser, trained, tmp_path):
    path = trained.model_path.with_suffix(".report.html")
    data = read_page_data(path)
    open_report(browser, path, 2)
    texts = browser.execute_script("""return Array.from(document.querySelectorAll(
        '#confusion g.heatmap-label text')).map(t => t.textContent);""")
    assert sorted(texts) == sorted(str(v) for row in data["confusion"] for v in row)
    lines = browser.execute_script(
        "return document.querySelectorAll('#curves .shapelayer path').length")
    assert lines >= 4  # the best epoch on each panel
    screenshot(browser, "training", tmp_path)
    assert_clean(browser)


def test_timeline_report_in_a_browser(browser, trained, tmp_path):
    path = make_timeline(trained, tmp_path)
    data = read_page_data(path)
    open_report(browser, path, 1)
    assert_audio_decodes(browser, "#player")
    duration = browser.execute_script("return document.getElementById('player').duration")
    assert abs(duration - 10.0) < 0.1
    # A click anywhere over the curves (here where none passes) plays from that time.
    centres = data["figures"]["timeline"]["data"][0]["x"]
    click_data_point(browser, "timeline", 6.3, 0.5)
    position = wait_for(browser, "document.getElementById('player').currentTime")
    nearest = min(centres, key=lambda centre: abs(centre - 6.3))
    assert nearest <= position < nearest + 0.4  # playing since the click
    screenshot(browser, "timeline", tmp_path)
    assert_clean(browser)


def test_feature_space_and_spectrogram_in_a_browser(browser, dataset, tmp_path):
    path = make_feature_space(dataset, tmp_path / "space.html")
    data = read_page_data(path)
    open_report(browser, path, 1)
    scatter = data["figures"]["feature-space"]["data"][2]  # the second class's points
    click_data_point(browser, "feature-space", scatter["x"][0], scatter["y"][0])
    playing = wait_for(browser, "document.getElementById('player').src")
    assert playing == data["files"][scatter["customdata"][0]]["audio"]["src"]
    assert browser.find_element("id", "now-playing").text == scatter["text"][0]
    assert_audio_decodes(browser, "#player")
    screenshot(browser, "feature_space", tmp_path)
    assert_clean(browser)

    path = make_spectrogram(tmp_path)
    open_report(browser, path, 1)
    assert_audio_decodes(browser, "#player")
    heatmap = read_page_data(path)["figures"]["spectrogram"]["data"][0]
    click_data_point(browser, "spectrogram", 7.0, heatmap["y"][len(heatmap["y"]) // 2])
    position = wait_for(browser, "document.getElementById('player').currentTime")
    assert abs(position - 7.0) < 0.3
    screenshot(browser, "spectrogram", tmp_path)
    assert_clean(browser)


def test_multilabel_report_in_a_browser(browser, tmp_path):
    path = make_multilabel(tmp_path / "ml.html")
    open_report(browser, path, 2)
    curves = browser.execute_script(
        "return document.getElementById('multilabel-pr').data.length")
    assert curves == 3
    screenshot(browser, "multilabel", tmp_path)
    assert_clean(browser)
