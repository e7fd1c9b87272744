"""Password checks under attack, through the real app: a burst of parallel wrong guesses is
counted as it arrives (exactly the limit's number of guesses is ever hashed, the rest get 429),
on SQLite and PostgreSQL, with the in-process limiter and with Redis; and the bounded hashing
pool refuses at once, rather than queues, what it has no room for.

Every test speaks from its own random client address (and Redis keys are named after users and
shares made here), so limits never carry over from one test or run to the next."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from salon.app import build_context, close_context, create_app
from salon.config import Settings
from salon.services.context import AppContext
from salon.services.passwords import PasswordPool
from tests.factories import UserClient
from tests.services.test_redis_sharing import REDIS_URL
from tests.web.test_multiworker import redis_answers

BURST = 60
LIMIT = 10  # every check below allows 10 wrong passwords per client (or user, or share)
HTML = {"accept": "text/html"}


def random_client() -> tuple[str, int]:
    return (f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}",
            40000)


@pytest.fixture(params=["process", "redis"])
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The rate limits in this process, or in Redis (what several workers share)."""
    if request.param == "process":
        return {}
    if not redis_answers():
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    return {"redis_url": REDIS_URL}


@pytest.fixture
async def owner(app: Any) -> AsyncIterator[UserClient]:
    user = await UserClient.sign_up(app, name="Owner", email=f"owner-{random.random()}@x.org",
                                    password="correct horse battery", client=random_client())
    yield user
    await user.http.aclose()


def anonymous_client(app: Any) -> httpx.AsyncClient:
    """An anonymous client with an address of its own."""
    transport = httpx.ASGITransport(app=app, client=random_client())
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def stranger(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with anonymous_client(app) as c:
        yield c


def tally(responses: list[httpx.Response]) -> Counter[tuple[int, str]]:
    return Counter((r.status_code, r.json()["code"]) for r in responses)


async def burst(send: Any) -> Counter[tuple[int, str]]:
    return tally(await asyncio.gather(*(send() for _ in range(BURST))))


# --- the three password checks ---------------------------------------------------------------

async def test_a_burst_of_wrong_sign_ins_is_counted_as_it_arrives(
    app: Any, owner: UserClient, stranger: httpx.AsyncClient
) -> None:
    def guess() -> Any:
        return stranger.post("/api/v1/auths/signin",
                             json={"email": owner.email, "password": "a wrong guess"})

    assert await burst(guess) == {(401, "INVALID_CREDENTIALS"): LIMIT,
                                  (429, "RATE_LIMITED"): BURST - LIMIT}
    # Locked out, even with the right password; the owner elsewhere is not.
    right = {"email": owner.email, "password": owner.password}
    locked = await stranger.post("/api/v1/auths/signin", json=right)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    async with anonymous_client(app) as elsewhere:
        assert (await elsewhere.post("/api/v1/auths/signin", json=right)).status_code == 200


async def test_a_burst_of_wrong_current_passwords_is_counted_as_it_arrives(
    owner: UserClient,
) -> None:
    def guess() -> Any:
        return owner.http.post("/api/v1/auths/update/password",
                               json={"password": "a wrong guess", "new_password": "new long pw"})

    assert await burst(guess) == {(422, "INCORRECT_PASSWORD"): LIMIT,
                                  (429, "RATE_LIMITED"): BURST - LIMIT}


async def test_a_burst_of_wrong_share_passwords_is_counted_as_it_arrives(
    owner: UserClient, stranger: httpx.AsyncClient
) -> None:
    chat_id = await owner.new_conversation("behind a password")
    link = (await owner.share(chat_id, password="right one"))["share_id"]

    def guess() -> Any:
        return stranger.post(f"/api/v1/chats/share/{link}/verify",
                             json={"password": "a wrong guess"})

    assert await burst(guess) == {(401, "INVALID_PASSWORD"): LIMIT,
                                  (429, "RATE_LIMITED"): BURST - LIMIT}
    r = await stranger.post(f"/api/v1/chats/share/{link}/verify", json={"password": "right one"})
    assert r.status_code == 429


async def test_a_burst_of_wrong_current_share_passwords_is_counted_as_it_arrives(
    owner: UserClient,
) -> None:
    chat_id = await owner.new_conversation("a guarded share")
    await owner.share(chat_id, password="right one")

    def guess() -> Any:
        return owner.http.post(f"/api/v1/chats/{chat_id}/share",
                               json={"password": None, "current_password": "a wrong guess"})

    assert await burst(guess) == {(403, "INVALID_CURRENT_PASSWORD"): LIMIT,
                                  (429, "RATE_LIMITED"): BURST - LIMIT}


async def test_a_right_password_gives_its_attempt_back(
    owner: UserClient, stranger: httpx.AsyncClient
) -> None:
    """Right passwords are not failures: after 9 wrong and any number of right sign-ins, one
    more wrong guess is still answered."""
    for _ in range(LIMIT - 1):
        r = await stranger.post("/api/v1/auths/signin",
                                json={"email": owner.email, "password": "wrong"})
        assert r.status_code == 401
    for _ in range(3):
        r = await stranger.post("/api/v1/auths/signin",
                                json={"email": owner.email, "password": owner.password})
        assert r.status_code == 200
    for _ in range(LIMIT):  # the right password cleared this email's failures
        r = await stranger.post("/api/v1/auths/signin",
                                json={"email": owner.email, "password": "wrong"})
        assert r.status_code == 401


# --- the hashing pool ------------------------------------------------------------------------

class GatedHasher(PasswordHasher):
    """argon2 itself (at the test cost), but each check first waits at a gate the test
    opens: the test, not the clock, decides when the pool's threads are busy."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.gate = gate

    def verify(self, hash: str | bytes, password: str | bytes) -> Any:  # noqa: A002
        self.gate.wait()
        return super().verify(hash, password)


@pytest.fixture
async def gated(settings: Settings) -> AsyncIterator[tuple[Any, AppContext, threading.Event]]:
    """The app on a context whose pool (1 thread, 2 waiting) checks passwords at a gate."""
    gate = threading.Event()
    gate.set()
    ctx = await build_context(settings)
    ctx.passwords.close()
    ctx.hasher = GatedHasher(gate)
    ctx.passwords = PasswordPool(ctx.hasher, workers=settings.password_hash_workers,
                                 queue=settings.password_hash_queue)
    app = create_app(settings, context=ctx)
    async with app.router.lifespan_context(app):
        yield app, ctx, gate
    gate.set()
    await close_context(ctx)


async def wait_until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("settings_overrides",
                         [{"password_hash_workers": 1, "password_hash_queue": 2}])
async def test_a_full_hashing_pool_refuses_at_once_and_the_queue_completes(
    gated: tuple[Any, AppContext, threading.Event],
) -> None:
    app, ctx, gate = gated
    owner = await UserClient.sign_up(app, name="Owner", email="owner@example.com",
                                     password="correct horse battery", client=random_client())
    other = await UserClient.sign_up(app, name="Other", email="other@example.com",
                                     password="another good one", client=random_client())
    async with anonymous_client(app) as c:
        gate.clear()
        # One check running, two waiting: the pool and its queue are full.
        held = [asyncio.create_task(c.post("/api/v1/auths/signin", json={
            "email": owner.email, "password": f"guess {i}"})) for i in range(3)]
        await wait_until(lambda: ctx.passwords.pending == 3)

        # Another user's sign-in is refused now, while the gate is still closed: not queued.
        r = await c.post("/api/v1/auths/signin",
                         json={"email": other.email, "password": other.password})
        assert (r.status_code, r.json()["code"]) == (429, "SERVER_BUSY")
        assert r.headers["retry-after"] == "1"
        page = await c.post("/login", data={"email": other.email, "password": other.password},
                            headers=HTML)
        assert page.status_code == 429 and "busy" in page.text
        assert not any(task.done() for task in held)

        gate.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [401, 401, 401]
        assert ctx.passwords.pending == 0
        # The refused attempts were not counted as failures: the sign-in works now.
        r = await c.post("/api/v1/auths/signin",
                         json={"email": other.email, "password": other.password})
        assert r.status_code == 200
    await owner.http.aclose()
    await other.http.aclose()
