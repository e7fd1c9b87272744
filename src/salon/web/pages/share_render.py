"""Share pages and live pages' message updates as HTML, made on a render thread
(``services.render_pool``) from values read beforehand: nothing here touches the database, the
request or the event loop.

Each shared message's ``<article>`` is kept in ``ctx.message_cache`` under its link and a
digest of everything it is rendered from (role, status, parts): a live page of thousands of
messages, or ``/s/{id}/messages?after=0``, renders only the messages it has not seen before.
An edited or regenerated message has other parts, so another key, and is rendered anew; what
a share shows (its checkpoint cut, the allow-list) is decided before, on the messages passed
in; and the link is in the key because a message's file links name its share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from salon.render import render_message
from salon.services.context import LruCache
from salon.web.pages.render import render_template, template_macro

NAMES = ("User", "Assistant")
SHOWN_ROLES = ("user", "assistant")
ENTRY_OVERHEAD = 200  # bytes a cached article costs beyond its text (key, tuple, digest)


@dataclass(frozen=True)
class SharedMessage:
    role: str
    html: Markup
    status: str


def files_url(link: str) -> str:
    return f"/api/v1/chats/share/{quote(link, safe='')}/files"


def message_key(link: str, message: Mapping[str, Any]) -> tuple[str, bytes]:
    """What a shared message's article depends on: its link and content."""
    content = repr((message["role"], message.get("status", "complete"), message["parts"]))
    return link, hashlib.blake2b(content.encode(), digest_size=16).digest()


def message_articles(
    cache: LruCache, link: str, messages: Sequence[Mapping[str, Any]]
) -> Markup:
    """The ``<article>`` of each user and assistant message, as the chat page renders them,
    with file links under ``link``; from ``cache`` when already rendered."""
    article = template_macro("_message.html", "message_article")
    files = files_url(link)

    def file_url(position: str) -> str:
        return f"{files}/{quote(position, safe='')}"

    articles = []
    for message in messages:
        if message["role"] not in SHOWN_ROLES:
            continue
        key = message_key(link, message)
        html: Markup | None = cache.get(key)
        if html is None:
            row = SharedMessage(role=message["role"], status=message.get("status", "complete"),
                                html=render_message(message["parts"], file_url=file_url))
            html = Markup(article(row, NAMES, 2))
            cache.put(key, html, size=len(html) + ENTRY_OVERHEAD)
        articles.append(html)
    return Markup("\n").join(articles)


def share_page_html(
    cache: LruCache, values: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]
) -> str:
    """``share.html`` with ``values`` (``share_page.page_context`` and the page's own: user,
    nonce, csrf_token) and ``messages`` rendered through ``cache``."""
    return render_template("share.html", **values,
                           articles=message_articles(cache, values["link"], messages))


def messages_update(
    cache: LruCache, link: str, messages: Sequence[Mapping[str, Any]],
    files: Sequence[Any],
) -> tuple[str, str]:
    """A live page's update: the new messages' articles and the files list."""
    articles = render_template("_share_messages.html", fragment=True,
                               articles=message_articles(cache, link, messages))
    listing = render_template("_share_files.html", files=files,
                              zip_url=f"/api/v1/chats/share/{quote(link, safe='')}/files.zip")
    return articles, listing
