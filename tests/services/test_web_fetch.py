"""The guarded web client against real local HTTP servers (the fake model server's plain
files): SSRF refusals (directly, after DNS and after a redirect), limits, the allow list."""

from __future__ import annotations

import ipaddress
from urllib.parse import quote

import pytest

from salon.domain.fetching import (
    FETCH_ADDRESS_REFUSED,
    FETCH_BAD_URL,
    FETCH_DNS_FAILED,
    FETCH_TIMEOUT,
    FETCH_TOO_LARGE,
    FETCH_TOO_MANY_REDIRECTS,
    AllowList,
    FetchRefused,
    IpAddress,
    parse_allow_list,
)
from salon.services.web_fetch import Fetched, FetchLimits, fetch
from tests.fakes.openai_server import PNG, FakeOpenAIServer

LIMITS = FetchLimits(max_bytes=100_000, timeout=10.0)
LOOPBACK = parse_allow_list("127.0.0.1")


async def fetched(url: str, *, allow: AllowList = LOOPBACK, limits: FetchLimits = LIMITS,
                  **kwargs: object) -> Fetched:
    return await fetch(url, limits=limits, allow=allow, **kwargs)  # type: ignore[arg-type]


async def refused(url: str, **kwargs: object) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        await fetched(url, **kwargs)  # type: ignore[arg-type]
    return caught.value


async def test_an_allowed_address_is_fetched(fake_llm: FakeOpenAIServer) -> None:
    got = await fetched(f"{fake_llm.url}/files/image.png")
    assert got.body == PNG and got.content_type == "image/png"


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "10.0.0.1",
                                  "169.254.169.254", "0.0.0.0", "[fe80::1]", "224.0.0.1",
                                  "localhost"])
async def test_private_addresses_are_refused_without_the_allow_list(host: str) -> None:
    error = await refused(f"http://{host}:9/x", allow=AllowList())
    assert error.code == FETCH_ADDRESS_REFUSED
    assert "SALON_FETCH_ALLOW_PRIVATE" in error.detail


@pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "http:///x",
                                 "http://user:pw@example.org/", "javascript:alert(1)"])
async def test_only_plain_http_urls_are_fetched(url: str) -> None:
    assert (await refused(url)).code == FETCH_BAD_URL


async def test_every_resolved_address_is_checked() -> None:
    async def resolve(host: str, port: int) -> list[IpAddress]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("127.0.0.1")]

    error = await refused("http://rebind.example/x", allow=AllowList(), resolve=resolve)
    assert error.code == FETCH_ADDRESS_REFUSED and "127.0.0.1" in error.detail


async def test_the_connection_goes_to_the_checked_address(fake_llm: FakeOpenAIServer) -> None:
    """The host name is resolved once, by Salon; the connection is made to that address
    (the system resolver does not know this name at all)."""
    port = int(fake_llm.url.rsplit(":", 1)[1])
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IpAddress]:
        asked.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    got = await fetched(f"http://images.salon-test.invalid:{port}/files/image.png",
                        resolve=resolve)
    assert got.body == PNG and asked == ["images.salon-test.invalid"]


async def test_an_unknown_host_is_a_dns_failure() -> None:
    assert (await refused("http://no-such-host.invalid/x")).code == FETCH_DNS_FAILED


@pytest.mark.parametrize("target", ["http://[::1]:9/x", "http://169.254.169.254/latest",
                                    "http://10.0.0.1/", "http://[::ffff:10.0.0.1]/"])
async def test_a_redirect_to_a_private_address_is_refused(
    fake_llm: FakeOpenAIServer, target: str
) -> None:
    error = await refused(f"{fake_llm.url}/files/redirect?to={quote(target)}")
    assert error.code == FETCH_ADDRESS_REFUSED


async def test_redirects_are_followed_and_counted(fake_llm: FakeOpenAIServer) -> None:
    once = f"{fake_llm.url}/files/redirect?to={quote('/files/image.png')}"
    assert (await fetched(once)).body == PNG
    twice = f"{fake_llm.url}/files/redirect?to={quote(once)}"
    one_allowed = FetchLimits(max_bytes=100_000, timeout=10.0, max_redirects=1)
    error = await refused(twice, limits=one_allowed)
    assert error.code == FETCH_TOO_MANY_REDIRECTS


async def test_a_body_over_the_size_limit_is_refused(fake_llm: FakeOpenAIServer) -> None:
    assert len((await fetched(f"{fake_llm.url}/files/big?size=100000")).body) == 100_000
    error = await refused(f"{fake_llm.url}/files/big?size=5000000")  # no Content-Length
    assert error.code == FETCH_TOO_LARGE
    tiny = FetchLimits(max_bytes=10, timeout=10.0)  # Content-Length says it is too large
    assert (await refused(f"{fake_llm.url}/files/image.png", limits=tiny)).code == FETCH_TOO_LARGE


async def test_a_fetch_that_takes_too_long_ends(fake_llm: FakeOpenAIServer) -> None:
    short = FetchLimits(max_bytes=100_000, timeout=0.5)
    assert (await refused(f"{fake_llm.url}/files/slow", limits=short)).code == FETCH_TIMEOUT
