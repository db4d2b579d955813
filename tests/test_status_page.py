"""The status page, in a real headless Chromium, of a daemon that processed real files."""

from __future__ import annotations

import shutil
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.processes import Daemon, wait_for, write_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromedriver") is None, reason="chromium-driver missing"),
]
HOSTILE = "products_<img src=x onerror=alert(1)>.csv"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,900")
    service = Service(shutil.which("chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


def drop(inbox: Path, partner: str, name: str, content: str) -> None:
    folder = inbox / "incoming" / partner
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(content)


def outcomes(inbox: Path) -> list[Path]:
    return [p for p in inbox.glob("*/*/*/*") if not p.name.endswith((".json", ".csv.errors.csv"))]


def test_the_grid_a_failed_files_errors_and_escaped_names(
    tmp_path: Path, browser: webdriver.Chrome
) -> None:
    inbox, port = tmp_path / "inbox", free_port()
    extra = (
        f'[web]\nport = {port}\n\n[[expected_feeds]]\npartner = "acme"\n'
        'feed = "inventory"\nby = "00:00"\n'
    )
    config = write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'db'}", inbox, extra)
    drop(inbox, "globex", "products.csv", "sku,name,price\nG1,Lamp,10\n")
    drop(inbox, "acme", "products_1.csv", "sku,name,price\nA1,Desk,ten\nA2,Chair,5\n")
    daemon = Daemon(config, tmp_path / "log").start()
    try:
        wait_for(lambda: len(outcomes(inbox)) == 2, 60, "the first files to be filed")
        drop(inbox, "acme", HOSTILE, "name\nno sku\n")
        wait_for(lambda: len(outcomes(inbox)) == 3, 60, "the hostile file to be filed")

        browser.get(f"http://127.0.0.1:{port}/")
        cell = {
            (td.get_attribute("data-partner"), td.get_attribute("data-feed")): td
            for td in browser.find_elements(By.CSS_SELECTOR, "#grid td")
        }
        assert cell[("globex", "products")].get_attribute("class") == "ok"
        assert cell[("acme", "inventory")].get_attribute("class") == "late"
        assert cell[("acme", "products")].get_attribute("class") == "failing"
        assert HOSTILE in cell[("acme", "products")].text
        assert browser.find_elements(By.CSS_SELECTOR, "img") == []
        assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
        browser.save_screenshot(str(tmp_path / "grid.png"))
        assert (tmp_path / "grid.png").stat().st_size > 10_000

        browser.find_element(By.LINK_TEXT, "acme").click()
        rows = browser.find_elements(By.CSS_SELECTOR, "#jobs tr")
        assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows[1:]] == [
            HOSTILE,
            "products_1.csv",
        ]
        rows[2].find_element(By.TAG_NAME, "a").click()
        assert browser.find_element(By.ID, "outcome").text == "FAILED"
        errors = [
            [td.text for td in row.find_elements(By.TAG_NAME, "td")]
            for row in browser.find_elements(By.CSS_SELECTOR, "#errors tr")[1:]
        ]
        assert errors[0][:3] == ["2", "price", "ten"]
        link = browser.find_element(By.ID, "errors-csv").get_attribute("href")
        assert link is not None
        with urllib.request.urlopen(link, timeout=10) as answer:
            assert "ten" in answer.read().decode()
    finally:
        assert daemon.stop() == 0
