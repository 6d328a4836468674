"""The read path's load generator: keep-alive HTTP/1.1 on raw asyncio streams, one process.

On two cores a generator that parses HTTP with a full client library would take the CPU the
servers need; this one writes prepared request bytes and reads just enough of each response
(status line, Content-Length or chunks) to know it is complete. Every connection sends its
next request as soon as the previous answer is in, for `duration` seconds; a request that has
no answer after `timeout` seconds counts as a timeout and its connection is replaced. It reports
its own CPU time, so the report can say what the generator cost.

Run by `bench.read_path` as `python -m bench.read_path.load`, a JSON spec on stdin:
`{"port": 8000, "requests": [base64 of whole requests], "connections": 32, "duration": 6,
"timeout": 10}`; it prints one JSON object: ok, errors, timeouts, latencies_ms (of the ok
answers), elapsed, cpu_seconds, first_error.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
_ERROR_MARK = b'"errors"'


class BadResponse(Exception):
    """An answer that is not a 200 with data: counted as an error, with its beginning."""


@dataclass
class Tally:
    ok: int = 0
    errors: int = 0
    timeouts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str | None = None

    def error(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message[:300]


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response: Content-Length or chunked."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return status, b"".join(parts)
    if length is None:
        raise BadResponse("neither Content-Length nor chunked")
    return status, await reader.readexactly(length)


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> None:
    writer.write(request)
    status, body = await read_response(reader)
    if status != 200 or _ERROR_MARK in body:
        raise BadResponse(f"HTTP {status}: {body[:200]!r}")


async def connection_loop(
    port: int,
    requests: list[bytes],
    offset: int,
    stride: int,
    deadline: float,
    answer_within: float,
    tally: Tally,
) -> None:
    """One keep-alive connection: requests offset, offset + stride, ... until the deadline."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    index = offset
    try:
        while time.perf_counter() < deadline:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            assert reader is not None
            request = requests[index % len(requests)]
            index += stride
            started = time.perf_counter()
            try:
                async with asyncio.timeout(answer_within):
                    await exchange(reader, writer, request)
            except TimeoutError:
                tally.timeouts += 1
                writer.close()
                reader = writer = None
                continue
            except BadResponse as error:
                tally.error(str(error))
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
                tally.error(f"{type(error).__name__}: {error}")
                writer.close()
                reader = writer = None
                await asyncio.sleep(0.05)
                continue
            tally.ok += 1
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
    finally:
        if writer is not None:
            writer.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    requests = [base64.b64decode(item) for item in spec["requests"]]
    connections = int(spec["connections"])
    tally = Tally()
    cpu_started = time.process_time()
    started = time.perf_counter()
    deadline = started + float(spec["duration"])
    await asyncio.gather(
        *(
            connection_loop(
                int(spec["port"]),
                requests,
                number,
                connections,
                deadline,
                float(spec["timeout"]),
                tally,
            )
            for number in range(connections)
        )
    )
    return {
        "ok": tally.ok,
        "errors": tally.errors,
        "timeouts": tally.timeouts,
        "latencies_ms": tally.latencies_ms,
        "elapsed": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "first_error": tally.first_error,
    }


def main() -> int:
    spec = json.loads(sys.stdin.read())
    result = asyncio.run(run(spec))
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
