"""What an error page says: a title that names what happened and the next step to take.

The detail under the title is the error's own (for share refusals, the spec's words from
``domain.shares``); this table adds a heading people understand (never a bare "410 / Gone")
and one sensible way on: sign in, go to your chats, or ask the owner for a new link.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from salon.web import cookies

ASK_FOR_NEW_LINK = "Ask the person who shared it with you for a new link."


@dataclass(frozen=True)
class ErrorText:
    """The page's heading, the advice under the detail, and its main link (label, href)."""

    title: str
    advice: str
    action: tuple[str, str]


# By machine code first (share refusals and the like), then by status.
CODE_TEXT: dict[str, tuple[str, str]] = {
    "SHARE_LINK_NOT_FOUND": ("This shared chat does not exist",
                             "Check the link for a typo, or ask the person who shared it "
                             "with you for a new one."),
    "SHARE_LINK_REVOKED": ("This link was revoked", ASK_FOR_NEW_LINK),
    "SHARE_LINK_EXPIRED": ("This link has expired", ASK_FOR_NEW_LINK),
    "SHARING_DISABLED": ("Sharing is turned off",
                         "Ask an administrator of this server to turn sharing back on."),
    "CLONE_LIMIT_REACHED": ("This chat cannot be cloned any more",
                            "You can still read it if the owner allows viewing."),
    "CLONING_NOT_ALLOWED": ("Cloning is not allowed", "You can still read the shared chat."),
    "CLONING_DISABLED": ("Cloning is not allowed", "Ask an administrator for the permission."),
}
STATUS_TEXT: dict[int, tuple[str, str]] = {
    400: ("Something is not right", "Go back, correct it and try again."),
    401: ("Please sign in", "Sign in, then open the page again."),
    403: ("Not allowed", "If you think you should have access, ask its owner or an "
                         "administrator."),
    404: ("Page not found", "Check the address, or start again from your chats."),
    405: ("Not allowed", "Go back and use the page's own buttons."),
    409: ("That conflicts with what is there", "Reload the page to see the latest state."),
    410: ("No longer available", "It was removed or has ended."),
    413: ("Too large", "Try a smaller file or a shorter text."),
    422: ("Something is not right", "Go back, correct it and try again."),
    429: ("Slow down", "Wait a moment, then try again."),
    500: ("Something went wrong", "Try again; if it keeps happening, tell the administrator."),
    501: ("Not available", "This server does not offer that."),
    502: ("Not available right now", "A server this needs did not answer. Try again later."),
    503: ("Temporarily unavailable", "Try again in a moment."),
}
FALLBACK = ("Something went wrong", "Go back and try again.")


def error_text(*, status: int, code: str, signed_in: bool) -> ErrorText:
    """The words for an error page with ``status`` and ``code``; the main link goes to the
    visitor's chats when they are signed in, else to the sign-in page."""
    title, advice = CODE_TEXT.get(code) or STATUS_TEXT.get(status) or FALLBACK
    action = ("Go to your chats", "/") if signed_in else ("Sign in", "/login")
    return ErrorText(title=title, advice=advice, action=action)


def error_context(*, status: int, code: str, detail: str, signed_in: bool) -> dict[str, object]:
    """The values ``error.html`` (and ``share_error.html``) read."""
    text = error_text(status=status, code=code, signed_in=signed_in)
    return {"title": text.title, "advice": text.advice, "action": text.action,
            "detail": detail, "code": code, "error_status": status}


def seems_signed_in(request: Request) -> bool:
    """Whether to lead the visitor to their chats rather than to sign in: a principal was
    found, or (on a page no route took, where nobody looked one up) the browser holds a
    session cookie. Only picks a link's label: "/" still sends a stale session to log in."""
    principal = getattr(request.state, "principal", None)
    return principal is not None or cookies.session_token(request) is not None
