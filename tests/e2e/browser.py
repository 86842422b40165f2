"""A real Chromium for dashboard tests: Debian's ``chromium`` driven by its
``chromedriver`` through Selenium (no browser is downloaded), headless, with a screenshot
helper that saves under the test run's artifacts."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")
WIDTH, HEIGHT = 1366, 900
"""A laptop screen."""
CHROMIUM = os.environ.get("ER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ER_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(
    os.environ.get("ER_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts")
)


def missing_browser() -> str | None:
    """Why no browser test can run here, or ``None``: the fix is named, never skipped."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            return f"{path} is missing: apt-get install -y {package} (.ci/run does this)"
    return None


class Browser:
    def __init__(self, base_url: str, artifacts: Path) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            f"--window-size={WIDTH},{HEIGHT}",
            "--lang=en-GB",
        ):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(30)
        self.base_url = base_url
        self.artifacts = artifacts
        artifacts.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        self.driver.quit()

    # -- moving around -----------------------------------------------------------------
    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        url: str = self.driver.current_url
        return url.removeprefix(self.base_url)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self) -> str:
        return str(self.find("body").text)

    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def click(self, css: str) -> None:
        self.find(css).click()

    def wait(self, condition: Callable[[], T], timeout: float = 15, message: str = "") -> T:
        """Poll ``condition`` (page reloads in between are fine) until it is truthy."""

        def check(_driver: object) -> T | bool:
            try:
                return condition()
            except Exception:  # the page was replaced while we looked: look again
                return False

        try:
            result: T = WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(check)
        except TimeoutException:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {message or condition}\n"
                f"(at {self.path}: {self.text()[:2000]})"
            ) from None
        return result

    def screenshot(self, name: str) -> Path:
        """The whole page (the window grows to its height for the shot)."""
        path = self.artifacts / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(WIDTH, min(max(int(height), HEIGHT), 4000))
        try:
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.set_window_size(WIDTH, HEIGHT)
        return path
