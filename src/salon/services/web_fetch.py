"""The one guarded client for fetching from the web (images now, pages for ``/online`` later).

Each hop (the first URL and every redirect) is checked the same way: http or https only, the
host resolved by Salon itself, every address it resolves to allowed by
``domain.fetching.may_connect``, and the connection made to that checked address (the URL's
host goes in the Host header and, for https, in SNI and the certificate check), so a DNS answer
that changes between the check and the connection cannot reach another address. Proxies from
the environment are ignored for the same reason. Bodies are streamed and cut off at the size
limit; the whole fetch, redirects included, ends at the time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx

from salon.config import Settings
from salon.domain.fetching import (
    FETCH_ADDRESS_REFUSED,
    FETCH_BAD_URL,
    FETCH_DNS_FAILED,
    FETCH_FAILED,
    FETCH_TIMEOUT,
    FETCH_TOO_LARGE,
    FETCH_TOO_MANY_REDIRECTS,
    AllowList,
    FetchRefused,
    IpAddress,
    may_connect,
    parse_allow_list,
)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "Salon (+https://github.com/salon-chat/salon)"

Resolver = Callable[[str, int], Awaitable[list[IpAddress]]]


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    timeout: float  # seconds for the whole fetch, redirects included
    max_redirects: int = 5


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    body: bytes


async def resolve_host(host: str, port: int) -> list[IpAddress]:
    """The addresses ``host`` resolves to (an address literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(f"The host {host} could not be resolved.",
                           code=FETCH_DNS_FAILED) from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def fetch(
    url: str, *, limits: FetchLimits, allow: AllowList, accept: str = "*/*",
    resolve: Resolver = resolve_host,
) -> Fetched:
    """GET ``url`` under the SSRF rules and ``limits``. Raises ``FetchRefused`` with a code
    per reason (domain.fetching's FETCH_* codes); never returns a non-2xx answer."""
    try:
        async with asyncio.timeout(limits.timeout):
            return await _follow(url, limits=limits, allow=allow, accept=accept, resolve=resolve)
    except TimeoutError:
        raise FetchRefused(f"Fetching {_shown(url)} took longer than {limits.timeout:g} s.",
                           code=FETCH_TIMEOUT) from None


async def _follow(url: str, *, limits: FetchLimits, allow: AllowList, accept: str,
                  resolve: Resolver) -> Fetched:
    timeout = httpx.Timeout(limits.timeout)
    async with httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False) as c:
        for _ in range(limits.max_redirects + 1):
            target = checked_url(url)
            address = await _checked_address(target, allow=allow, resolve=resolve)
            async with _stream(c, target, address, accept) as response:
                if response.status_code in REDIRECTS and "location" in response.headers:
                    url = str(target.join(response.headers["location"]))
                    continue
                if not response.is_success:
                    raise FetchRefused(f"{_shown(str(target))} answered HTTP "
                                       f"{response.status_code}.", code=FETCH_FAILED)
                body = await read_limited(response, limits.max_bytes, str(target))
                return Fetched(url=str(target), body=body,
                               content_type=response.headers.get("content-type", ""))
    raise FetchRefused(f"{_shown(url)} redirects more than {limits.max_redirects} times.",
                       code=FETCH_TOO_MANY_REDIRECTS)


def checked_url(url: str) -> httpx.URL:
    """``url`` parsed, if it is an http(s) URL with a host and no credentials."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchRefused(f"{_shown(url)} is not a valid URL.", code=FETCH_BAD_URL) from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchRefused(f"Only http:// and https:// addresses can be fetched, not "
                           f"{_shown(url)}.", code=FETCH_BAD_URL)
    if parsed.userinfo:
        raise FetchRefused("Addresses with a user name or password are not fetched.",
                           code=FETCH_BAD_URL)
    return parsed


async def _checked_address(target: httpx.URL, *, allow: AllowList,
                           resolve: Resolver) -> IpAddress:
    """The address to connect to: every address of the host must be allowed (a host that
    answers one public and one private address is refused, whichever would be used)."""
    port = target.port or (443 if target.scheme == "https" else 80)
    addresses = await resolve(target.host, port)
    if not addresses:
        raise FetchRefused(f"The host {target.host} has no address.", code=FETCH_DNS_FAILED)
    for address in addresses:
        if not may_connect(address, host=target.host, allow=allow):
            raise FetchRefused(
                f"{target.host} is a private, local or reserved address ({address}): Salon "
                "does not fetch from those unless SALON_FETCH_ALLOW_PRIVATE allows it.",
                code=FETCH_ADDRESS_REFUSED)
    return addresses[0]


@contextlib.asynccontextmanager
async def _stream(client: httpx.AsyncClient, target: httpx.URL, address: IpAddress,
                  accept: str) -> AsyncIterator[httpx.Response]:
    """The answer of ``address`` to a GET of ``target`` (not read yet); httpx's transport
    failures become FetchRefused."""
    host = target.host if target.port is None else f"{target.host}:{target.port}"
    headers = {"Host": host, "Accept": accept, "User-Agent": USER_AGENT}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = client.build_request("GET", target.copy_with(host=str(address)),
                                   headers=headers, extensions=extensions)
    try:
        response = await client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        raise FetchRefused("The web server did not answer in time.", code=FETCH_TIMEOUT) from exc
    except httpx.HTTPError as exc:
        raise FetchRefused(f"The web server could not be reached: {type(exc).__name__}.",
                           code=FETCH_FAILED) from exc
    try:
        yield response
    finally:
        await response.aclose()


async def read_limited(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    """A streamed ``response``'s body, refused (FETCH_TOO_LARGE) past ``max_bytes``: reading
    stops there."""
    too_large = FetchRefused(f"{_shown(url)} is larger than {max_bytes} bytes.",
                             code=FETCH_TOO_LARGE)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise too_large
    except httpx.TimeoutException as exc:
        raise FetchRefused("The web server stopped sending in time.", code=FETCH_TIMEOUT) from exc
    except httpx.HTTPError as exc:
        raise FetchRefused(f"The download failed: {type(exc).__name__}.",
                           code=FETCH_FAILED) from exc
    return bytes(body)


def _shown(url: str) -> str:
    """``url`` for a message: at most 200 characters."""
    return url if len(url) <= 200 else url[:199] + "…"


def allow_list(settings: Settings) -> AllowList:
    return parse_allow_list(settings.fetch_allow_private)


def limits(settings: Settings) -> FetchLimits:
    return FetchLimits(max_bytes=settings.fetch_max_bytes, timeout=settings.fetch_timeout)
