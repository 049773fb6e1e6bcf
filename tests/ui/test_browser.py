"""Click-through of every page in Debian's Chromium (Playwright): the demo's whole story, the
charts drawn, no console error anywhere, a screenshot of each page kept as a test artifact
(build/ui-screenshots/, or $MODELYARD_UI_SCREENSHOTS), and the login and 403 flows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import SCREENSHOTS, Site


class Tab:
    """A page of the browser that remembers every console error and failed request."""

    def __init__(self, browser: Any, base: str, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page: {e}"))
        self.page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    def go(self, path: str) -> Any:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, demo_site: Site) -> Iterator[Tab]:
    t = Tab(browser, demo_site.url)
    yield t
    t.close()


def test_click_through_the_whole_loop(tab: Tab) -> None:
    page = tab.go("/ui/")
    tab.shot("experiments")
    page.get_by_role("link", name="credit-demo").click()
    page.wait_for_selector("table.runs tbody tr")
    tab.shot("runs")
    # sort by a metric through its header (htmx swaps the table and pushes the URL)
    page.get_by_role("link", name="holdout_auc").click()
    page.wait_for_selector("th a.sorted")
    assert "order=metrics.holdout_auc" in page.url
    assert page.locator("th a.sorted").get_attribute("aria-sort") == "descending"
    # the column chooser and a filter
    page.locator("details.columns summary").click()
    page.get_by_label("Filter").fill("params.kind = 'gbm'")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("table.runs tbody tr").count() >= 1
    page.get_by_label("Filter").fill("")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state("networkidle")
    # select two runs and compare them
    boxes = page.locator('table.runs input[name="run"]')
    boxes.nth(0).check()
    boxes.nth(1).check()
    assert "2 selected" in page.locator("#selected-count").inner_text()
    page.get_by_role("button", name="Compare selected runs").click()
    page.wait_for_selector('#compare-chart[data-ready="1"]')
    assert page.locator("table.diff tbody tr").count() >= 1
    tab.shot("compare")
    # a run: its chart, artifacts and inputs
    page.locator("main p a").first.click()
    page.wait_for_selector('#run-chart[data-ready="1"]')
    page.get_by_label("log scale").check()
    page.wait_for_selector('#run-chart[data-ready="1"] canvas')
    page.locator("ul.files a", has_text="modelyard.yaml").click()
    page.wait_for_selector(".preview pre")
    tab.shot("run")
    # models: the champion, its card and lineage
    page.get_by_role("link", name="Models").click()
    page.get_by_role("link", name="credit", exact=True).click()
    page.wait_for_selector("table.audit")
    assert page.locator("table.audit tbody tr").count() >= 2  # promoted, then swapped
    tab.shot("model")
    page.locator("dl.facts a", has_text="v").first.click()
    page.wait_for_selector("svg.graph .kind-endpoint")
    assert page.locator("svg.graph .node").count() >= 5
    assert page.frame_locator("iframe.card").locator("h1").inner_text().startswith("Model card")
    tab.shot("version")
    # features, monitoring, pipelines
    tab.go("/ui/features")
    assert page.locator("article.view").count() >= 2
    tab.shot("features")
    page.get_by_role("link", name="Monitoring").click()
    page.get_by_role("link", name="credit", exact=True).click()
    for chart in ("drift", "columns", "perf", "latency", "traffic"):
        page.wait_for_selector(f'#chart-{chart}[data-ready="1"]')
    page.wait_for_selector('canvas.histogram[data-ready="1"]')
    assert page.locator("canvas.histogram").count() == 2  # income and debt_ratio
    tab.shot("monitoring")
    page.locator("td a", has_text="retrain").first.click()
    page.wait_for_selector("svg.graph .node")
    assert "alert" in page.locator("dl.facts").inner_text()
    tab.shot("pipeline")
    tab.go("/ui/pipelines")
    tab.shot("pipelines")
    assert tab.errors == []


def test_keyboard_and_phone_width(browser: Any, demo_site: Site) -> None:
    phone = Tab(browser, demo_site.url, width=390, height=844)
    try:
        page = phone.go("/ui/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        page.get_by_role("link", name="credit-demo").click()
        page.wait_for_selector("table.runs")
        assert page.evaluate("document.documentElement.scrollWidth") <= 400  # the table scrolls, not the page
        phone.shot("runs-phone")
        phone.go("/ui/monitoring/credit")
        page.wait_for_selector('#chart-drift[data-ready="1"]')
        assert page.evaluate("document.documentElement.scrollWidth") <= 400
        phone.shot("monitoring-phone")
        assert phone.errors == []
    finally:
        phone.close()


def test_login_and_the_403_page_in_the_browser(browser: Any, secure_site: Site) -> None:
    token = secure_site.user("vera", "viewer")
    tab = Tab(browser, secure_site.url)
    try:
        page = tab.go("/ui/models/credit")
        assert "/ui/login" in page.url
        tab.shot("login")
        page.get_by_label("Token").fill(token)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector("h1:has-text('credit')")
        assert page.url.endswith("/ui/models/credit")
        # the form is not offered to a viewer; posting it anyway (a stale tab) gets the 403 page
        csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
        answer = page.request.post(secure_site.url + "/ui/models/credit/aliases",
                                   form={"alias": "champion", "version": "1", "csrf": csrf or ""})
        assert answer.status == 403
        page.set_content(answer.text())
        tab.shot("forbidden")
        assert "Not allowed" in page.locator("h1").inner_text()
        tab.go("/ui/models/credit")
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url("**/ui/login")
        assert [e for e in tab.errors if "403" not in e] == []
    finally:
        tab.close()
