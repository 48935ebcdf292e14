"""The memory explorer in a real headless Chromium, against a real server: what it shows of a
seeded resource, what its buttons change in the store, and how it reports failures."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.explorer.conftest import ARTIFACTS_DIR, ExplorerServer
from tests.api.explorer.seed import BOOKING_PDF, HOSTILE_TEXT, TRIP_THREAD, WEEKEND_THREAD, WORKING_MEMORY, message, seed_resource

pytestmark = pytest.mark.browser

RESOURCE = "ada"
API_KEY = "explorer-test-key-0123456789"


def open_resource(page: Page, server: ExplorerServer, resource_id: str, *, agent: str = "", credential: str = "") -> None:
    page.goto(f"{server.url}/explorer")
    page.fill("#resource", resource_id)
    page.fill("#agent", agent)
    page.fill("#credential", credential)
    page.click("#open-form button")


def server_error(server: ExplorerServer, method: str, path: str, **kwargs: Any) -> str:
    """The error text the API answers to the same call the page made."""
    response = httpx.request(method, f"{server.url}{path}", **kwargs)
    assert response.status_code >= 400, response.text
    return response.json()["error"]


def test_the_explorer_shows_a_resources_memory_and_changes_it_through_the_api(
    explorer_server: Callable[..., ExplorerServer], browser_page: Page
) -> None:
    # Given a resource with 21 threads, one a conversation with reasoning, a tool call, a file
    # and hostile markup, and working memory
    server = explorer_server()
    memory = server.memory()
    seeded = seed_resource(memory, RESOURCE)
    page = browser_page

    # When the resource is picked
    open_resource(page, server, RESOURCE)

    # Then its threads are listed newest first, 20 to a page, and the resource is remembered
    threads = page.locator(".thread-link")
    expect(page.locator("#thread-count")).to_have_text(str(seeded.thread_count))
    expect(threads).to_have_count(20)
    expect(threads.first.locator(".title")).to_have_text("Lisbon trip")
    expect(page.locator("#threads-page")).to_have_text("page 1 of 2")
    page.click("#threads-older")
    expect(threads).to_have_count(1)
    expect(page.locator("#threads-page")).to_have_text("page 2 of 2")
    page.click("#threads-newer")
    expect(threads).to_have_count(20)
    expect(page.locator("#recent .chip")).to_have_text([RESOURCE])
    expect(page.locator("#working-memory")).to_have_text(WORKING_MEMORY)
    expect(page.locator("#wm-source")).to_have_text("scope: resource")

    # When the conversation is opened
    page.click(f".thread-link[data-thread-id='{TRIP_THREAD}']")

    # Then every message shows its role and time, oldest first, with each part rendered
    messages = page.locator("#messages .message")
    expect(messages).to_have_count(4)
    expect(messages.locator("header .role")).to_have_text(["user", "assistant", "user", "user"])
    expect(messages.first.locator("time")).to_have_attribute("datetime", "2025-03-01T10:01:00.000Z")
    expect(messages.first.locator("time")).to_have_text("2025-03-01 10:01:00 UTC")
    assistant = messages.nth(1)
    expect(assistant.locator(".part.step")).to_have_count(1)
    expect(assistant.locator(".part.reasoning")).to_contain_text("search pet-friendly hotels first")
    tool = assistant.locator(".part.tool")
    expect(tool.locator(".part-label code")).to_have_text("searchHotels")
    expect(tool.locator(".part-label")).to_contain_text("result · call-hotels-1")
    expect(tool.locator("pre")).to_have_text([re.compile(r'"city": "Lisbon",\s+"petFriendly": true'), re.compile(r'"name": "Casa do Fado"')])
    expect(assistant.locator(".part.text")).to_have_text("Casa do Fado in Alfama accepts dogs.")
    booking = messages.nth(2).locator(".part.file a")
    expect(booking).to_have_text("booking.pdf")
    expect(booking).to_have_attribute("download", "booking.pdf")
    href = booking.get_attribute("href") or ""
    assert href.startswith("data:application/pdf;base64,")
    assert base64.b64decode(href.partition(",")[2]) == BOOKING_PDF

    # And stored markup stays text: no element made from it, no script run, no javascript: link
    hostile = messages.nth(3)
    expect(hostile.locator(".part.text")).to_have_text(HOSTILE_TEXT)
    expect(page.locator("#messages img, #messages script")).to_have_count(0)
    expect(hostile.locator(".part.file a")).to_have_count(0)
    expect(hostile.locator(".part.file")).to_contain_text("click-me.html (no usable link)")
    assert page.evaluate("window.__pwned") is None

    # When the memory is searched
    page.fill("#search-input", "hotel for my dog")
    page.click("#search-form button")

    # Then the hits are the API's, in its order, with their threads' titles
    expected = httpx.get(
        f"{server.url}/api/memory/search",
        params={"searchQuery": "hotel for my dog", "resourceId": RESOURCE, "threadId": TRIP_THREAD},
    ).json()
    assert expected["count"] > 0
    expect(page.locator("#search-note")).to_have_text(f"{expected['count']} results (scope: resource)")
    expect(page.locator(".hit .hit-text")).to_have_text([f"{hit['role']} {hit['content']}" for hit in expected["results"]])
    expect(page.locator(".hit header button")).to_have_text([hit["threadTitle"] for hit in expected["results"]])

    # When the thread is renamed
    page.fill("#rename-input", "Lisbon with Rex")
    page.click("#rename-form button")

    # Then the page and the store have the new title
    expect(page.locator("#thread-title")).to_have_text("Lisbon with Rex")
    expect(threads.first.locator(".title")).to_have_text("Lisbon with Rex")
    thread = memory.get_thread(TRIP_THREAD)
    assert thread is not None and thread.title == "Lisbon with Rex"
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS_DIR / "explorer.png", full_page=True)

    # When another thread is opened from a search hit, and deleting it is first cancelled, then confirmed
    page.locator(".hit header button", has_text="Weekend plans").first.click()
    expect(page.locator("#thread-title")).to_have_text("Weekend plans")
    # (a reload comes back to the same resource and thread: they are in the page's URL)
    page.reload()
    expect(page.locator("#thread-title")).to_have_text("Weekend plans")
    expect(messages).to_have_count(1)
    page.click("#delete-thread")
    expect(page.locator("#confirm-title")).to_have_text(f"Delete thread {WEEKEND_THREAD}?")
    page.click("#confirm button[value=cancel]")
    expect(page.locator("#status")).to_have_text("Delete cancelled.")
    assert memory.get_thread(WEEKEND_THREAD) is not None
    page.click("#delete-thread")
    page.click("#confirm-ok")

    # Then it is gone from the store and from the list
    expect(page.locator("#status")).to_have_text(f"Deleted thread {WEEKEND_THREAD}.")
    assert memory.get_thread(WEEKEND_THREAD) is None
    expect(page.locator("#thread-count")).to_have_text(str(seeded.thread_count - 1))
    expect(page.locator("#thread-title")).to_have_text("No thread open")

    # When the resource is erased: the button stays disabled until its id is typed
    page.click("#erase")
    confirm = page.locator("#confirm-ok")
    expect(confirm).to_be_disabled()
    page.fill("#confirm-typed", RESOURCE[:-1])
    expect(confirm).to_be_disabled()
    page.fill("#confirm-typed", RESOURCE)
    expect(confirm).to_be_enabled()
    confirm.click()

    # Then the store holds nothing of it, and the page says so
    expect(page.locator("#status")).to_have_text(f"Erased resource {RESOURCE}: {seeded.thread_count - 1} threads deleted.")
    assert memory.list_threads(resource_id=RESOURCE).total == 0
    assert memory.get_resource(RESOURCE) is None
    expect(page.locator("#thread-count")).to_have_text("0")
    expect(page.locator("#threads")).to_have_text("No threads for this resource.")
    expect(page.locator("#recent .chip")).to_have_count(0)


def test_a_long_thread_opens_on_its_newest_messages_and_pages_back(
    explorer_server: Callable[..., ExplorerServer], browser_page: Page
) -> None:
    # Given a thread of 55 messages
    server = explorer_server()
    memory = server.memory()
    memory.create_thread(resource_id=RESOURCE, thread_id="long", title="Long chat")
    memory.save_messages([message("long", RESOURCE, number) for number in range(1, 56)])
    page = browser_page
    open_resource(page, server, RESOURCE)

    # When it is opened, then the newest 50 show, oldest of them first
    page.click(".thread-link[data-thread-id='long']")
    texts = page.locator("#messages .part.text")
    expect(texts).to_have_count(50)
    expect(texts.first).to_have_text("message 6")
    expect(texts.last).to_have_text("message 55")
    expect(page.locator("#messages-page")).to_have_text("page 2 of 2")

    # When the older page is asked for, then the first 5 show
    page.click("#messages-older")
    expect(texts).to_have_text([f"message {number}" for number in range(1, 6)])
    expect(page.locator("#messages-page")).to_have_text("page 1 of 2")
    expect(page.locator("#messages-older")).to_be_disabled()


def test_every_failed_call_shows_the_servers_error_text(
    explorer_server: Callable[..., ExplorerServer], browser_page: Page
) -> None:
    server = explorer_server()
    seed_resource(server.memory(), RESOURCE)
    page = browser_page
    error = page.locator("#error")

    # An unknown agent: the API's 404 text, naming the call
    open_resource(page, server, RESOURCE, agent="nobody")
    reason = server_error(server, "GET", "/api/memory/config", params={"agentId": "nobody"})
    expect(error).to_be_visible()
    expect(error).to_contain_text(f"failed (404): {reason}")

    # An agent without semantic recall: search is refused up front, saying why
    open_resource(page, server, RESOURCE, agent="plain")
    expect(error).to_be_hidden()
    expect(page.locator("#search-note")).to_have_text("Agent plain has no semantic recall, so its memory cannot be searched.")
    expect(page.locator("#search-input")).to_be_disabled()

    # A thread deleted behind the page's back: renaming it shows the API's 404 text
    open_resource(page, server, RESOURCE)
    page.click(f".thread-link[data-thread-id='{TRIP_THREAD}']")
    expect(page.locator("#thread-title")).to_have_text("Lisbon trip")
    server.memory().delete_thread(TRIP_THREAD)
    page.fill("#rename-input", "Too late")
    page.click("#rename-form button")
    reason = server_error(server, "PATCH", f"/api/memory/threads/{TRIP_THREAD}", json={"title": "Too late", "resourceId": RESOURCE})
    expect(error).to_contain_text(f"PATCH /api/memory/threads/{TRIP_THREAD} failed (404): {reason}")


def test_with_api_key_auth_the_page_is_public_and_every_memory_call_needs_the_key(
    explorer_server: Callable[..., ExplorerServer], browser_page: Page
) -> None:
    # Given a server in api-key mode
    server = explorer_server(auth_mode="api-key", api_key=API_KEY)
    seeded = seed_resource(server.memory(), RESOURCE)
    page = browser_page
    error = page.locator("#error")

    # The page's files hold no data and load without the key; the memory routes refuse it
    assert httpx.get(f"{server.url}/explorer").status_code == 200
    assert httpx.get(f"{server.url}/api/memory/threads", params={"resourceId": RESOURCE}).status_code == 401

    # Without a key, the page shows the API's refusal and asks for the key
    open_resource(page, server, RESOURCE)
    expect(error).to_contain_text("GET /api/memory/threads failed (401): Missing API key")
    expect(page.locator("#credential")).to_be_focused()
    expect(page.locator(".thread-link")).to_have_count(0)

    # With a wrong key, the same
    open_resource(page, server, RESOURCE, credential="not-the-key")
    expect(error).to_contain_text("failed (401): Invalid API key")

    # With the key, the calls succeed, and the key is kept for this tab only
    open_resource(page, server, RESOURCE, credential=API_KEY)
    expect(page.locator("#thread-count")).to_have_text(str(seeded.thread_count))
    expect(error).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('memkit.explorer.credential')") == API_KEY
    assert API_KEY not in page.evaluate("JSON.stringify(localStorage)")
