"""What every server-rendered page under /oauth shares: templates, security headers, form bodies.

These pages take passwords, so each answer is kept out of caches (`no-store`), out of frames
(clickjacking: `X-Frame-Options` and `frame-ancestors`), sends no referrer (an invitation link
carries its token in the query), and may post forms only back to the hub, whose answers in the
authorization flow may end at the client's validated redirect URI.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

__all__ = [
    "SECURITY_HEADERS",
    "Page",
    "csrf_token_matches",
    "protect",
    "read_form",
    "render",
    "templates",
]

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@dataclass(frozen=True)
class Page:
    """What a handler decided: a template to render with its context and status.

    `form_targets`: origins besides the hub's own that the page's forms may end at. A browser
    holds a form's redirects to the page's `form-action` too, so a page of the authorization
    flow names the origin of the validated redirect URI its answer may send the person to.
    """

    template: str
    context: dict[str, Any]
    status: int = 200
    form_targets: tuple[str, ...] = ()


def csrf_token_matches(sent: str, expected: str) -> bool:
    """Constant-time, compared as bytes: `compare_digest` raises on non-ASCII `str`, and the
    sent value is whatever a client typed."""
    return secrets.compare_digest(sent.encode(), expected.encode())


async def read_form(request: Request) -> list[tuple[str, str]]:
    """The url-encoded form body; undecodable bytes become U+FFFD instead of failing."""
    body = await request.body()
    return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def render(request: Request, page: Page) -> Response:
    response = templates.TemplateResponse(
        request, page.template, page.context, status_code=page.status
    )
    protect(response, page.form_targets)
    return response


def protect(response: Response, form_targets: tuple[str, ...] = ()) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if form_targets:
        allowed = " ".join(("'self'", *form_targets))
        policy = SECURITY_HEADERS["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = policy.replace(
            "form-action 'self'", f"form-action {allowed}"
        )
