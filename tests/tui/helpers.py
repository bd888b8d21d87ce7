"""Driving an app under test: run a scenario with a Pilot and record notifications."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from textual.app import App
from textual.notifications import Notification, Notify

from termvault.tui import ArchiveBrowser


async def wait_until(pilot, condition: Callable[[], bool], what: str = "the condition", limit: float = 15.0) -> None:
    """Let the app run until ``condition()`` holds (workers finish, messages arrive).
    ``limit`` only guards against a hang; nothing asserts how long it took."""
    deadline = time.monotonic() + limit
    while True:
        await pilot.pause()
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


def idle(app: App) -> bool:
    """Nothing the app asked for is still loading (BrowserApp knows; for a host app, no
    worker runs and no ArchiveBrowser waits for a result)."""
    known = getattr(app, "idle", None)
    if known is not None:
        return known
    return all(w.is_finished for w in app.workers) and not any(b.busy for b in app.query(ArchiveBrowser))


async def settle(pilot) -> None:
    """Wait until the app has loaded everything it asked for."""
    await wait_until(pilot, lambda: idle(pilot.app), "the app to be idle")
    await pilot.pause()


class Notifications:
    """A run_test message hook that keeps every notification the app showed."""

    def __init__(self) -> None:
        self.items: list[Notification] = []

    def __call__(self, message) -> None:
        if isinstance(message, Notify):
            self.items.append(message.notification)

    def of(self, severity: str) -> list[str]:
        return [n.message for n in self.items if n.severity == severity]


def drive(
    app: App,
    scenario: Callable[..., Awaitable[None]],
    size: tuple[int, int] = (80, 24),
    notes: Notifications | None = None,
    wait: Callable | None = settle,
) -> None:
    """Run ``app`` headless at ``size``, wait until it has loaded, then ``scenario(pilot)``."""

    async def main() -> None:
        async with app.run_test(size=size, message_hook=notes) as pilot:
            if wait is not None:
                await wait(pilot)
            await scenario(pilot)

    asyncio.run(main())
