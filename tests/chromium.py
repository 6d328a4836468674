"""A real browser for the tests that need one: Debian's Chromium, driven by Playwright.

Nothing is downloaded: Playwright launches the system's `/usr/bin/chromium` (`.ci/run`
installs the `chromium` package when it is missing). The flags keep Chromium off the network
it would otherwise reach for at start (this machine's network is closed). Apps are served on
real loopback ports, as a browser needs them, by uvicorn in a thread of their own.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright
from starlette.types import ASGIApp

CHROMIUM = Path("/usr/bin/chromium")
INSTALLED = CHROMIUM.exists()
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for one test; the test is skipped where Debian's is not installed
    (`.ci/run` installs it, so CI never skips)."""
    if not INSTALLED:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def served(app: ASGIApp, port: int | None = None) -> AsyncIterator[int]:
    """`app` served on a loopback port (a free one unless given) until the block ends; yields
    the port. It runs in a thread with an event loop of its own, as a server process would:
    what it starts there (its pool, its worker threads) ends with it."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"served-{port}", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"the app on port {port} did not start")
            await asyncio.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)
