"""The suppression list over HTTP: add (idempotent), list (paged), lift; and the dispatcher's re-check helper."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import UUID

import pytest

from plera.aggregates.suppressions import SuppressionList
from plera.commands.suppressions import AddSuppression, add_suppression, suppression_for
from tests.integration.api.conftest import assert_problem


def _add(api, kind, value, reason=None, status=201):
    body = {"kind": kind, "value": value} | ({"reason": reason} if reason else {})
    return api.ok(api.post("/v1/suppressions", json=body), status)


def test_an_address_is_suppressed_listed_and_lifted(api):
    entry = _add(api, "email", "  Ada@Example.COM", reason="asked by phone")
    assert entry["kind"] == "email" and entry["value"] == "ada@example.com"
    assert (entry["reason"], entry["source"], entry["lead_id"]) == ("asked by phone", "manual", None)
    assert entry["created_at"].endswith("+00:00")

    again = _add(api, "email", "ada@example.com", reason="other", status=200)
    assert again == entry

    listed = api.ok(api.get("/v1/suppressions"))
    assert listed == {"items": [entry], "next_cursor": None}

    lifted = api.client.delete(f"/v1/suppressions/{entry['id']}", headers=api.headers)
    assert lifted.status_code == 204 and lifted.content == b""
    assert api.ok(api.get("/v1/suppressions"))["items"] == []
    assert_problem(api.client.delete(f"/v1/suppressions/{entry['id']}", headers=api.headers), 404, "not_found")


def test_domains_and_linkedin_profiles_are_stored_normalised(api):
    assert _add(api, "domain", "@Example.org.")["value"] == "example.org"
    url = _add(api, "linkedin_url", "https://www.linkedin.com/in/Grace-H/?trk=abc")
    assert url["value"] == "linkedin.com/in/grace-h"


def test_the_list_pages_oldest_first_and_filters_by_kind(api, clock):
    added = []
    for n in range(5):
        added.append(_add(api, "email", f"p{n}@example.com")["id"])
        clock.advance(timedelta(seconds=1))
    _add(api, "domain", "example.net")

    first = api.ok(api.get("/v1/suppressions", params={"limit": 2}))
    assert [i["id"] for i in first["items"]] == added[:2] and first["next_cursor"]
    second = api.ok(api.get("/v1/suppressions", params={"limit": 2, "cursor": first["next_cursor"]}))
    assert [i["id"] for i in second["items"]] == added[2:4]
    third = api.ok(api.get("/v1/suppressions", params={"limit": 2, "cursor": second["next_cursor"]}))
    assert [i["value"] for i in third["items"]] == ["p4@example.com", "example.net"]
    assert third["next_cursor"] is None

    domains = api.ok(api.get("/v1/suppressions", params={"kind": "domain"}))
    assert [i["value"] for i in domains["items"]] == ["example.net"]
    emails = api.ok(api.get("/v1/suppressions", params={"kind": "email", "limit": 500}))
    assert len(emails["items"]) == 5


@pytest.mark.parametrize(
    ("kind", "value", "code"),
    [
        ("email", "not-an-address", "invalid_email"),
        ("domain", "localhost", "invalid_domain"),
        ("domain", "exa mple.com", "invalid_domain"),
        ("linkedin_url", "https://example.com/in/ada", "invalid_linkedin_url"),
        ("linkedin_url", "https://www.linkedin.com/company/acme", "invalid_linkedin_url"),
    ],
)
def test_a_value_that_does_not_look_like_its_kind_is_422(api, kind, value, code):
    assert_problem(api.post("/v1/suppressions", json={"kind": kind, "value": value}), 422, code)
    assert api.ok(api.get("/v1/suppressions"))["items"] == []


def test_malformed_requests_are_422(api):
    assert_problem(api.post("/v1/suppressions", json={"kind": "phone", "value": "+4930"}), 422, "invalid_request")
    assert_problem(api.post("/v1/suppressions", json={"kind": "email"}), 422, "invalid_request")
    assert_problem(api.post("/v1/suppressions", json={"kind": "email", "value": ""}), 422, "invalid_request")
    bad_extra = {"kind": "email", "value": "a@b.co", "source": "unsubscribe"}
    assert_problem(api.post("/v1/suppressions", json=bad_extra), 422, "invalid_request")
    assert_problem(api.get("/v1/suppressions", params={"kind": "phone"}), 422, "invalid_request")
    assert_problem(api.get("/v1/suppressions", params={"limit": 501}), 422, "invalid_request")
    assert_problem(api.get("/v1/suppressions", params={"cursor": "nonsense"}), 422, "invalid_cursor")


def test_the_list_needs_the_api_key(api):
    assert_problem(api.client.get("/v1/suppressions"), 401, "unauthorized")
    assert_problem(api.client.post("/v1/suppressions", json={"kind": "email", "value": "a@b.co"}), 401, "unauthorized")


def test_unknown_and_malformed_ids_are_404(api):
    _add(api, "email", "ada@example.com")
    for raw in ("6f1c1f9e-0000-4000-8000-000000000000", "not-a-uuid"):
        assert_problem(api.client.delete(f"/v1/suppressions/{raw}", headers=api.headers), 404, "not_found")


def test_another_workspace_neither_sees_nor_lifts_an_entry(new_workspace):
    acme, brigand = new_workspace("Acme"), new_workspace("Brigand")
    entry = _add(acme, "email", "ada@example.com")
    assert brigand.ok(brigand.get("/v1/suppressions"))["items"] == []
    _add(brigand, "domain", "brigand.test")
    gone = brigand.client.delete(f"/v1/suppressions/{entry['id']}", headers=brigand.headers)
    assert_problem(gone, 404, "not_found")
    assert acme.ok(acme.get("/v1/suppressions"))["items"] == [entry]


def test_the_re_check_reads_every_committed_change(api, services):
    ws = api.workspace_id
    assert suppression_for(services, ws, email="ada@mail.example.com", linkedin_url=None) is None
    domain = _add(api, "domain", "example.com")
    found = suppression_for(services, ws, email="Ada@Mail.Example.com", linkedin_url=None)
    assert found is not None and (found["id"], found["skip_reason"]) == (domain["id"], "suppressed")

    api.client.delete(f"/v1/suppressions/{domain['id']}", headers=api.headers)
    assert suppression_for(services, ws, email="ada@mail.example.com", linkedin_url=None) is None
    url = _add(api, "linkedin_url", "linkedin.com/in/ada")
    found = suppression_for(services, ws, email="ada@example.com", linkedin_url="https://www.linkedin.com/in/ada/")
    assert found is not None and found["id"] == url["id"]
    assert suppression_for(services, UUID(int=0), email="ada@example.com", linkedin_url=None) is None


def test_concurrent_additions_all_land_on_the_one_list(api, services):
    def add(n):
        return add_suppression(services, api.workspace_id, AddSuppression(kind="email", value=f"c{n}@example.com"), "t")

    with ThreadPoolExecutor(max_workers=4) as pool:  # racing for the list's versions, and for creating it
        added = list(pool.map(add, range(8)))
    assert all(a.created for a in added)
    listed = api.ok(api.get("/v1/suppressions"))["items"]
    assert sorted(i["value"] for i in listed) == sorted(f"c{n}@example.com" for n in range(8))


def test_a_long_list_is_snapshotted_and_loads_the_same(api, services):
    for n in range(55):
        add_suppression(services, api.workspace_id, AddSuppression(kind="email", value=f"s{n}@example.com"), "t")
    list_id = SuppressionList.create_id(api.workspace_id)
    with services.db.pool.connection() as conn:
        rows = conn.execute("SELECT originator_version FROM plera_snapshots WHERE originator_id = %s", (list_id,))
        assert [v for (v,) in rows.fetchall()] == [50]
    loaded = services.events.get(list_id, SuppressionList, api.workspace_id)
    assert loaded.version == 56 and len(loaded.entries) == 55
    assert suppression_for(services, api.workspace_id, email="s54@example.com", linkedin_url=None) is not None
