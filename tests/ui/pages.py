"""Opening the app in a test's page: loaded, and connected to the daemon's event stream."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def open_app(page: Page, url: str, query: str = "") -> None:
    """Load the app (`query` like "?album=big") and wait until its event stream is open."""
    page.goto(url + "/" + query)
    expect(page.locator("#conn-dot")).to_have_attribute("data-state", "open", timeout=10_000)


def open_gallery(page: Page, url: str, query: str = "") -> None:
    """`open_app`, then wait until the first image tile shows."""
    open_app(page, url, query)
    expect(page.locator(".tile[data-id]:not([data-id=''])").first).to_be_visible()
