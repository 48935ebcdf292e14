"""A resource's memory as an agent leaves it: a conversation with reasoning, a tool call and its
result, a file, hostile markup, working memory, and enough threads for two pages."""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

from memkit.memory import Memory

TRIP_THREAD = "trip"
WEEKEND_THREAD = "weekend"
FILLER_THREADS = 19  # with the two conversations: 21 threads, one more than a page of 20
BOOKING_PDF = b"%PDF-1.4 booking 4471 for Casa do Fado"
HOSTILE_TEXT = '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script> & friends'
WORKING_MEMORY = "# User\n- name: Ada\n- dog: Rex\n- next trip: Lisbon"


class Seeded(NamedTuple):
    resource_id: str
    thread_count: int


def _message(thread_id: str, resource_id: str, number: int, role: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"{thread_id}-{number}",
        "threadId": thread_id,
        "resourceId": resource_id,
        "role": role,
        "type": "v2",
        "createdAt": f"2025-03-01T{10 + number // 60:02d}:{number % 60:02d}:00.000Z",
        "content": {"format": 2, "parts": parts},
    }


def message(thread_id: str, resource_id: str, number: int) -> dict[str, Any]:
    """A user's text message, "message <number>", <number> minutes into the day."""
    return _message(thread_id, resource_id, number, "user", [{"type": "text", "text": f"message {number}"}])


def seed_resource(memory: Memory, resource_id: str) -> Seeded:
    for number in range(FILLER_THREADS):
        memory.create_thread(resource_id=resource_id, thread_id=f"older-{number:02d}", title=f"Older chat {number:02d}")
    memory.create_thread(resource_id=resource_id, thread_id=WEEKEND_THREAD, title="Weekend plans")
    memory.save_messages(
        [_message(WEEKEND_THREAD, resource_id, 1, "user", [{"type": "text", "text": "Remind me to buy dog food on Saturday."}])]
    )
    memory.create_thread(resource_id=resource_id, thread_id=TRIP_THREAD, title="Lisbon trip")
    trip = [
        _message(TRIP_THREAD, resource_id, 1, "user", [
            {"type": "text", "text": "I'm going to Lisbon with my dog Rex. Find a hotel that accepts dogs."},
        ]),
        _message(TRIP_THREAD, resource_id, 2, "assistant", [
            {"type": "step-start"},
            {
                "type": "reasoning",
                "reasoning": "The user travels with a dog: search pet-friendly hotels first.",
                "details": [{"type": "text", "text": "The user travels with a dog: search pet-friendly hotels first."}],
            },
            {
                "type": "tool-invocation",
                "toolInvocation": {
                    "state": "result",
                    "toolCallId": "call-hotels-1",
                    "toolName": "searchHotels",
                    "args": {"city": "Lisbon", "petFriendly": True},
                    "result": {"hotels": [{"name": "Casa do Fado", "district": "Alfama"}]},
                },
            },
            {"type": "text", "text": "Casa do Fado in Alfama accepts dogs."},
        ]),
        _message(TRIP_THREAD, resource_id, 3, "user", [
            {"type": "text", "text": "Here is the booking confirmation."},
            {
                "type": "file",
                "mimeType": "application/pdf",
                "filename": "booking.pdf",
                "data": base64.b64encode(BOOKING_PDF).decode(),
            },
        ]),
        _message(TRIP_THREAD, resource_id, 4, "user", [
            {"type": "text", "text": HOSTILE_TEXT},
            {"type": "file", "mimeType": "text/html", "filename": "click-me.html", "data": "javascript:window.__pwned = 3"},
        ]),
    ]
    memory.save_messages(trip)
    memory.update_working_memory(thread_id=TRIP_THREAD, resource_id=resource_id, working_memory=WORKING_MEMORY)
    return Seeded(resource_id, FILLER_THREADS + 2)
