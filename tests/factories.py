"""Factories for test setup: users with their own API clients, conversations with turns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class UserClient:
    """A signed-up user and an httpx client that authenticates as them with a bearer token."""

    id: str
    email: str
    name: str
    role: str
    token: str
    password: str
    http: httpx.AsyncClient

    @classmethod
    async def sign_up(cls, app: Any, *, name: str, email: str, password: str,
                      client: tuple[str, int] = ("127.0.0.1", 123)) -> UserClient:
        """``client`` is the address the app sees (sign-ups are limited per address)."""
        transport = httpx.ASGITransport(app=app, client=client)
        anon = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        async with anon:
            r = await anon.post("/api/v1/auths/signup",
                                json={"name": name, "email": email, "password": password})
        assert r.status_code == 200, r.text
        body = r.json()
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {body['token']}"},
        )
        return cls(id=body["id"], email=body["email"], name=body["name"], role=body["role"],
                   token=body["token"], password=password, http=http)

    async def chat(self, q: str, **fields: Any) -> dict[str, Any]:
        """Send a message without streaming; returns the JSON answer."""
        r = await self.http.post("/api/chat", json={"q": q, "stream": False, **fields})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def chat_events(self, q: str, **fields: Any) -> list[dict[str, Any]]:
        """Send a message with streaming; returns the parsed server-sent events."""
        async with self.http.stream("POST", "/api/chat", json={"q": q, **fields},
                                    headers={"Accept": "text/event-stream"}) as r:
            assert r.status_code == 200, await r.aread()
            assert r.headers["content-type"].startswith("text/event-stream")
            return [json.loads(line[len("data: "):]) async for line in r.aiter_lines()
                    if line.startswith("data: ")]

    async def new_conversation(self, *turns: str) -> str:
        """A conversation with one answered turn per question; returns its id."""
        conversation_id: str | None = None
        for q in turns:
            fields = {"conversation_id": conversation_id} if conversation_id else {}
            conversation_id = (await self.chat(q, **fields))["conversationId"]
        assert conversation_id is not None
        return conversation_id

    async def share(self, chat_id: str, **options: Any) -> dict[str, Any]:
        """Create or update the chat's share with ``options``; returns the share JSON."""
        r = await self.http.post(f"/api/v1/chats/{chat_id}/share", json=options)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body
