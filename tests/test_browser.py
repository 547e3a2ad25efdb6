"""Playwright drives Debian's Chromium through every tab: fill, Generate, and a <video> that really loads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import make_services
from vidgen.ui import create_demo

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("VIDGEN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-quic", "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def page(tmp_path_factory, catalog_path, safety_filter):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/install_test_services.sh installs it")
        pytest.skip(f"{CHROMIUM} is missing (run scripts/install_test_services.sh)")
    from playwright.sync_api import sync_playwright

    services = make_services(tmp_path_factory.mktemp("browser"), catalog_path, safety_filter)
    demo = create_demo(services)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1",
                allowed_paths=[str(services.settings.output_dir)])
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(demo.local_url)
        page.wait_for_selector("text=vidgen")
        yield page
        browser.close()
    demo.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def visible_result_src(page) -> str:
    return page.evaluate(
        "() => ([...document.querySelectorAll('.result-video video')].find(el => el.offsetParent !== null)"
        " || {currentSrc: ''}).currentSrc"
    )


def generate_and_wait_for_video(page, shot: str) -> dict:
    """Click Generate and wait for a *new* result video (not the one a previous test left on the page)."""
    previous_src = visible_result_src(page)
    page.locator("button:visible", has_text="Generate").first.click()
    page.wait_for_function(
        """old => [...document.querySelectorAll('.result-video video')].some(
               el => el.offsetParent !== null && el.currentSrc !== old && el.readyState >= 2 && el.duration > 0)""",
        arg=previous_src, timeout=120_000,
    )
    video = page.locator(".result-video video:visible").first
    state = video.evaluate("el => ({readyState: el.readyState, duration: el.duration, src: el.currentSrc})")
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    return state


def test_text_to_video_in_the_browser(page):
    open_tab(page, "Text to Video")
    page.locator(".prompt:visible textarea").first.fill("a red circle moves to the left")
    state = generate_and_wait_for_video(page, "text_to_video.png")
    assert state["readyState"] >= 2 and state["duration"] > 0
    assert "Done with" in page.locator(".job-status:visible").first.inner_text()


def test_image_to_video_in_the_browser(page, sample_image):
    open_tab(page, "Image to Video")
    page.locator(".input-image input[type=file]").first.set_input_files(str(sample_image))
    state = generate_and_wait_for_video(page, "image_to_video.png")
    assert state["duration"] > 0


def test_video_to_video_in_the_browser(page, sample_video):
    open_tab(page, "Video to Video")
    page.locator(".prompt:visible textarea").first.fill("a blue square")
    page.locator(".input-video input[type=file]").first.set_input_files(str(sample_video))
    state = generate_and_wait_for_video(page, "video_to_video.png")
    assert state["duration"] > 0


def test_blocked_prompt_shows_why_next_to_the_prompt(page):
    open_tab(page, "Text to Video")
    page.locator(".prompt:visible textarea").first.fill("explicit porn, a naked woman")
    page.locator("button:visible", has_text="Generate").first.click()
    status = page.locator(".job-status:visible").first
    status.get_by_text("Blocked").wait_for(timeout=30_000)
    assert "Blocked" in status.inner_text()


def test_history_reuse_settings_regenerates_the_same_video(page):
    """Generate, open History, reuse settings, regenerate: the same frames come out."""
    import httpx

    from tests.test_studio import decoded_frames

    open_tab(page, "Text to Video")
    page.locator(".prompt:visible textarea").first.fill("a green square moves down")
    first = generate_and_wait_for_video(page, "history_first.png")
    open_tab(page, "History")
    page.locator(".history-gallery button, .history-gallery img").first.wait_for(timeout=30_000)
    page.locator(".history-gallery img").first.click()
    page.locator(".history-video video").first.wait_for(timeout=30_000)
    page.locator("button.history-reuse, .history-reuse button, .history-reuse").first.click()
    page.get_by_role("tab", name="Text to Video", selected=True).wait_for(timeout=30_000)
    assert page.locator(".prompt:visible textarea").first.input_value() == "a green square moves down"
    second = generate_and_wait_for_video(page, "history_reused.png")
    assert second["src"] != first["src"]  # a new job, written to a new file
    frames = []
    for state in (first, second):
        path = ARTIFACTS / f"history-{len(frames)}.mp4"
        path.write_bytes(httpx.get(state["src"]).content)
        frames.append(decoded_frames(path))
    assert (frames[0] == frames[1]).all()

