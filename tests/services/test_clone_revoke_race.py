"""Cloning a share while its owner revokes it: a clone refused because the link was revoked a
moment ago says so (410 SHARE_LINK_REVOKED), never "clone limit reached" on a share that has no
clone limit. Real requests at once through the app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.factories import UserClient

ROUNDS = 12
CLONES_PER_ROUND = 8


async def test_clones_racing_a_revocation_say_revoked(alice: UserClient, bob: UserClient) -> None:
    chat_id = await alice.new_conversation("Clone me while I revoke")
    link = (await alice.share(chat_id))["share_id"]  # no clone limit, no view limit
    outcomes: Counter[tuple[int, str]] = Counter()
    for _ in range(ROUNDS):
        clones = [bob.http.post(f"/api/v1/chats/{link}/clone/shared")
                  for _ in range(CLONES_PER_ROUND)]
        revoke = alice.http.delete(f"/api/v1/chats/{chat_id}/share")
        results = await asyncio.gather(*clones[:4], revoke, *clones[4:])
        revoked, answers = results[4], results[:4] + results[5:]
        assert revoked.status_code == 200, revoked.text
        for r in answers:
            outcomes[(r.status_code, r.json().get("code", "") if r.status_code != 200 else "")] += 1
        restored = await alice.http.post(f"/api/v1/chats/{chat_id}/share/restore")
        assert restored.status_code == 200, restored.text
    refused = {outcome for outcome in outcomes if outcome[0] != 200}
    assert refused <= {(410, "SHARE_LINK_REVOKED")}, outcomes
    assert (410, "SHARE_LINK_REVOKED") in outcomes, outcomes  # the race did happen
