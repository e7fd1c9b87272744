"""The SSRF rules: which resolved addresses Salon may fetch from."""

from __future__ import annotations

import ipaddress

import pytest

from salon.domain.fetching import AllowList, is_public_address, may_connect, parse_allow_list

NOTHING = AllowList()


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.251", "255.255.255.255", "240.0.0.1", "192.0.2.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1",
    "2002:7f00:1::1", "2002:a00:1::1",
])
def test_non_public_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not is_public_address(ip)
    assert not may_connect(ip, host="example.org", allow=NOTHING)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8", "2002:808:808::1"])
def test_public_addresses_are_fetched(address: str) -> None:
    assert may_connect(ipaddress.ip_address(address), host="example.org", allow=NOTHING)


def test_the_allow_list_takes_networks_addresses_and_hosts() -> None:
    allow = parse_allow_list(" 10.1.0.0/16, 127.0.0.1 ,::1, Images.LAN., ")
    assert allow.hosts == frozenset({"images.lan"})
    assert len(allow.networks) == 3
    ip = ipaddress.ip_address
    assert may_connect(ip("10.1.200.3"), host="x.lan", allow=allow)
    assert not may_connect(ip("10.2.0.1"), host="x.lan", allow=allow)
    assert may_connect(ip("127.0.0.1"), host="localhost", allow=allow)
    assert may_connect(ip("::ffff:127.0.0.1"), host="x", allow=allow)  # the same address
    assert not may_connect(ip("127.0.0.2"), host="localhost", allow=allow)
    assert may_connect(ip("::1"), host="x", allow=allow)
    assert may_connect(ip("192.168.5.5"), host="images.lan", allow=allow)
    assert parse_allow_list("") == AllowList()
