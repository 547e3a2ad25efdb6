"""Quota in the running app: the meter, refusals explained on the button, and the teacher's admin view."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gradio_client import Client

from tests.conftest import make_services
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from vidgen.quota import IdentityResolver, Roster, User
from vidgen.ui import create_demo

PASSWORDS = {"alice": "alice-pw", "carol": "carol-pw", "teacher": "teacher-pw"}


@pytest.fixture(scope="module")
def app(tmp_path_factory, catalog_path, safety_filter):
    services = make_services(tmp_path_factory.mktemp("quota-app"), catalog_path, safety_filter)
    roster = Roster(entries={})
    for name, password in PASSWORDS.items():
        roster = roster.with_user(name, password, "admin" if name == "teacher" else "free")
    services.identity = IdentityResolver(roster=roster, salt="test", trusted_proxy=False)
    demo = create_demo(services)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", auth=roster.verify)
    yield services, demo.local_url
    demo.close()


def test_only_admins_can_use_the_admin_endpoints(app, tmp_path):
    services, url = app
    alice = Client(url, auth=("alice", PASSWORDS["alice"]), verbose=False)
    teacher = Client(url, auth=("teacher", PASSWORDS["teacher"]), verbose=False)
    alice.predict("a red circle", "", "tiny-wan", 1, "32x32", 2, 3.0, 1, 0, api_name="/text_to_video")
    with pytest.raises(Exception, match="Only admins"):
        alice.predict(api_name="/admin_usage")
    with pytest.raises(Exception, match="Only admins"):
        alice.predict("roster:alice", 100, api_name="/admin_top_up")
    usage = teacher.predict(api_name="/admin_usage")
    rows = {row[0]: row for row in usage["data"]}
    assert rows["roster:alice"][3] == pytest.approx(1.125, abs=0.05)  # the table shows 0.1 s
    teacher.predict("roster:alice", 50, api_name="/admin_top_up")
    alice_user = User("roster:alice", "free", "alice", "roster")
    assert services.ledger.balance(alice_user).limit_s == pytest.approx(154)
    teacher.predict("roster:alice", "pro", api_name="/admin_set_plan")
    assert services.ledger.balance(alice_user).plan == "pro"
    teacher.predict("roster:alice", api_name="/admin_reset")
    assert services.ledger.balance(alice_user).used_s == 0


def wait_for_text(page, selector: str, text: str, timeout: int = 30_000) -> None:
    """Wait until some element matching `selector` shows `text` (Markdown splits text across nodes)."""
    page.wait_for_function(
        "([sel, text]) => [...document.querySelectorAll(sel)].some(el => el.innerText.includes(text))",
        arg=[selector, text], timeout=timeout,
    )


@pytest.mark.browser
def test_meter_updates_and_generate_explains_a_refusal(app, tmp_path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    services, url = app
    carol = User("roster:carol", "free", "carol", "roster")  # untouched by the admin test above
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        page.get_by_label("username").fill("carol")
        page.get_by_label("password").fill(PASSWORDS["carol"])
        page.get_by_role("button", name="Login").click()
        wait_for_text(page, "#quota-meter", "104 s left today")
        assert "1 s" in page.locator(".cost-line:visible").first.inner_text()  # cost shown before clicking
        page.locator(".prompt:visible textarea").first.fill("a red circle moves left")
        page.locator("button:visible", has_text="Generate").first.click()
        wait_for_text(page, "#quota-meter", "102.9 s left today", timeout=120_000)  # 104 - 1.125

        services.ledger.reserve(carol, "spend-the-rest", 102.5)
        services.ledger.settle("spend-the-rest", 102.5)
        page.reload()
        button = page.locator("button:visible", has_text="Generate").first
        wait_for_text(page, ".cost-line", "not enough left today")
        assert "try again in" in button.inner_text()
        page.locator(".prompt:visible textarea").first.fill("a red circle moves left")
        button.click()
        wait_for_text(page, ".job-status", "Try again in")
        page.screenshot(path=str(Path(__file__).resolve().parent.parent / "test-artifacts" / "quota_refused.png"))
        browser.close()
