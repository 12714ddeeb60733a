#!/usr/bin/env python3
"""Drive a running Roster with the official Aitronos Python SDK (aitronos-sdk 5.0.0).

The SDK validates every 2xx body with its pydantic models, so a response that
lacks a required field, or has one of the wrong type, fails here even where
Roster's own Rust tests (which read JSON loosely) pass.

Usage:
    ROSTER_URL=http://127.0.0.1:8080 ROSTER_PLATFORM_KEY=... python tests/e2e/aitronos_sdk.py

Setup goes over plain HTTP with the platform key (users with passwords, an
organization owned by one of them, members added directly); the checks then
run through the SDK, signed in as the owner. Every check runs even after one
fails; the last line is "N passed, M failed" and the exit status is non-zero
when anything failed. Emails carry a random suffix, so the script can run
again against the same server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import traceback
import urllib.error
import urllib.request
import uuid

try:
    from aitronos import Aitronos
    from aitronos.core.api_error import ApiError
    from aitronos.types import MemberResponse, OrganizationResponse, RoleResponse, StatusResponse
except ImportError as e:  # pragma: no cover - environment problem, not a test failure
    sys.exit(f"error: cannot import the Aitronos SDK ({e}); pip install aitronos-sdk==5.0.0")


def env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        sys.exit(f"error: set {name}")
    return value


BASE = env("ROSTER_URL").rstrip("/")
PLATFORM_KEY = env("ROSTER_PLATFORM_KEY")
SUFFIX = uuid.uuid4().hex[:10]
PASSWORD = "correct horse battery staple"


class Failure(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise Failure(what)


def equal(got, want, what: str) -> None:
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


# ---- plain HTTP for the setup (the SDK has no user or login endpoints Roster serves)


def http(method: str, path: str, body: dict | None = None, key: str = PLATFORM_KEY) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as e:
        raise Failure(f"setup {method} {path} -> {e.code}: {e.read().decode(errors='replace')}") from None
    return json.loads(raw) if raw else {}


def new_user(first: str, last: str) -> dict:
    email = f"{first.lower()}.{SUFFIX}@example.test"
    user = http("POST", "/v1/users", {"email": email, "full_name": f"{first} {last}", "password": PASSWORD})
    user["email"] = email
    return user


def api_error(call, status: int, what: str) -> ApiError:
    """Runs `call`, which must fail with HTTP `status`; returns the error."""
    try:
        call()
    except ApiError as e:
        equal(e.status_code, status, f"{what}: status")
        return e
    raise Failure(f"{what}: expected HTTP {status}, the call succeeded")


def envelope_code(e: ApiError) -> str:
    body = e.body if isinstance(e.body, dict) else {}
    expect(body.get("success") is False, f"error body is the envelope: {e.body!r}")
    return body.get("error", {}).get("code", "")


# ---- setup (filled in by setup())

owner = ada = ben = chloe = {}
ORG = token = ""
client = platform = None


def setup() -> None:
    global owner, ada, ben, chloe, ORG, token, client, platform
    owner = new_user("Olga", "Owner")
    ada = new_user("Ada", "Adams")
    ben = new_user("Ben", "Baker")
    chloe = new_user("Chloe", "Costa")
    org = http(
        "POST",
        "/v1/organizations",
        {"name": f"SDK Test {SUFFIX}", "type": "Work", "owner_user_id": owner["id"]},
    )
    ORG = org["id"]
    for u in (ada, ben, chloe):
        http("POST", f"/v1/organizations/{ORG}/members", {"user_id": u["id"]})
    token = http("POST", "/v1/auth/login", {"email": owner["email"], "password": PASSWORD})["access_token"]
    # The SDK sends its api_key as X-API-Key; Roster accepts a session token there.
    client = Aitronos(api_key=token, base_url=BASE, timeout=30)
    platform = Aitronos(api_key=PLATFORM_KEY, base_url=BASE, timeout=30)


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


# ---- organizations


@check
def organizations_list_pages_and_types():
    page = client.organizations.list_organizations(skip=0, limit=10)
    equal((page.skip, page.limit), (0, 10), "paging echoed")
    equal(page.total, 1, "the owner belongs to one organization")
    equal([o.id for o in page.organizations], [ORG], "listed organizations")
    o = page.organizations[0]
    expect(isinstance(o, OrganizationResponse), "items are OrganizationResponse")
    expect(isinstance(o.created_at, dt.datetime), "created_at parses as a datetime")
    everything = platform.organizations.list_organizations(limit=100)
    expect(ORG in [x.id for x in everything.organizations] or everything.total > 100, "the platform sees every organization")


@check
def organizations_get():
    o = client.organizations.get_organization(ORG)
    equal(o.id, ORG, "id")
    equal(o.name, f"SDK Test {SUFFIX}", "name")
    equal(o.type, "Work", "type")
    equal(o.owner_id, owner["id"], "owner_id")
    equal(o.is_active, True, "is_active")
    expect(isinstance(o.api_usage_limit, float) and isinstance(o.total_usage_limit, float), "usage limits are numbers")
    expect(o.storage_free_bytes_allowance > 0, "storage allowance")


@check
def organizations_update():
    o = client.organizations.update_organization(
        ORG, description="Built by the SDK test", website="https://example.test", api_usage_limit=250.0
    )
    equal((o.description, o.website, o.api_usage_limit), ("Built by the SDK test", "https://example.test", 250.0), "updated fields")
    equal(o.name, f"SDK Test {SUFFIX}", "fields not sent stay unchanged")
    again = client.organizations.get_organization(ORG)
    equal(again.description, "Built by the SDK test", "the update is stored")
    expect(again.updated_at >= again.created_at, "updated_at moves forward")


@check
def organizations_create_and_delete():
    made = client.organizations.create_organization(name=f"Scratch {SUFFIX}", type="Personal", industry="Testing")
    expect(made.id.startswith("org_"), f"new id {made.id!r} is an org_ id")
    equal((made.type, made.industry, made.owner_id), ("Personal", "Testing", owner["id"]), "the caller owns the new organization")
    listed = client.organizations.list_organizations()
    equal(sorted(o.id for o in listed.organizations), sorted([ORG, made.id]), "both organizations listed")
    equal(client.organizations.delete_organization(made.id), None, "delete returns nothing")
    e = api_error(lambda: client.organizations.get_organization(made.id), 404, "a deleted organization")
    equal(envelope_code(e), "ORGANIZATION_NOT_FOUND", "error code")
    equal([o.id for o in client.organizations.list_organizations().organizations], [ORG], "the deleted one is gone")


@check
def organizations_unknown_id_is_404():
    e = api_error(lambda: client.organizations.get_organization("org_" + "0" * 26), 404, "unknown organization")
    equal(envelope_code(e), "ORGANIZATION_NOT_FOUND", "error code")


@check
def statuses_list():
    statuses = client.organizations.list_statuses(ORG)
    expect(all(isinstance(s, StatusResponse) for s in statuses), "items are StatusResponse")
    equal([s.id for s in statuses][:3], ["status_active", "status_inactive", "status_pending"], "base statuses in order")
    equal([s.order for s in statuses][:3], [1, 2, 3], "order")
    expect(all(s.organization_id == ORG and s.is_base_status for s in statuses[:3]), "base statuses of this organization")


# ---- crew management (members)


@check
def members_list_pages():
    first = client.crew_management_members.list_members(ORG, skip=0, take=2, sort_field="email", sort_direction="asc")
    equal((first.total_users_count, first.skip, first.take, len(first.users)), (4, 0, 2, 2), "first page")
    second = client.crew_management_members.list_members(ORG, skip=2, take=2, sort_field="email", sort_direction="asc")
    equal((second.total_users_count, len(second.users)), (4, 2), "second page")
    emails = [m.email for m in first.users + second.users]
    equal(emails, sorted([owner["email"], ada["email"], ben["email"], chloe["email"]]), "pages are disjoint and sorted")
    expect(all(isinstance(m, MemberResponse) and m.organization_id == ORG for m in first.users), "items are MemberResponse")


@check
def members_search():
    found = client.crew_management_members.list_members(ORG, search_term="ada")
    equal([m.user_id for m in found.users], [ada["id"]], "search by name")
    equal(found.total_users_count, 1, "total counts the matches")
    by_email = client.crew_management_members.list_members(ORG, search_term=f"chloe.{SUFFIX}")
    equal([m.user_id for m in by_email.users], [chloe["id"]], "search by email")


@check
def members_get_by_user_and_membership_id():
    m = client.crew_management_members.get_member(ORG, ada["id"])
    equal((m.user_id, m.email, m.full_name), (ada["id"], ada["email"], "Ada Adams"), "member fields")
    equal((m.role.id, m.role.name), ("role_member", "Member"), "primary role")
    equal((m.status.id, m.status.name), ("status_active", "Active"), "status")
    expect(m.id.startswith("orgusr_"), f"membership id {m.id!r}")
    same = client.crew_management_members.get_member(ORG, m.id)
    equal(same.user_id, ada["id"], "found by membership id")
    owner_member = client.crew_management_members.get_member(ORG, owner["id"])
    equal(owner_member.role.id, "role_owner", "the owner holds Owner")


@check
def members_update_role():
    m = client.crew_management_members.update_member(ORG, ada["id"], role_id="role_admin")
    equal((m.user_id, m.role.id, m.role.name), (ada["id"], "role_admin", "Admin"), "update answers the member")
    equal(client.crew_management_members.get_member(ORG, ada["id"]).role.id, "role_admin", "the new role is stored")
    admins = client.crew_management_members.list_members(ORG, role_id="role_admin")
    equal([x.user_id for x in admins.users], [ada["id"]], "filter by role")


@check
def members_unknown_is_404():
    e = api_error(lambda: client.crew_management_members.get_member(ORG, "usr_" + "0" * 26), 404, "unknown member")
    equal(envelope_code(e), "MEMBER_NOT_FOUND", "error code")


@check
def members_take_out_of_range_is_422():
    api_error(lambda: client.crew_management_members.list_members(ORG, take=101), 422, "take 101")


@check
def members_delete_and_restore():
    members = client.crew_management_members
    equal(members.delete_member(ORG, ben["id"]), None, "delete returns nothing")
    after = members.list_members(ORG, take=100)
    equal(after.total_users_count, 3, "a deleted member is not listed")
    expect(ben["id"] not in [m.user_id for m in after.users], "ben is gone")
    with_deleted = members.list_members(ORG, take=100, include_deleted=True)
    equal(with_deleted.total_users_count, 4, "include_deleted lists him")
    # Roster still answers a deleted member by id, flagged (an extra field the SDK keeps).
    equal(getattr(members.get_member(ORG, ben["id"]), "is_deleted", None), True, "flagged is_deleted")
    equal(members.restore_member(ORG, ben["id"]), None, "restore returns nothing")
    equal(getattr(members.get_member(ORG, ben["id"]), "is_deleted", None), False, "restored")
    equal(members.list_members(ORG).total_users_count, 4, "listed again")
    e = api_error(lambda: members.restore_member(ORG, ben["id"]), 422, "restoring a member who is not deleted")
    equal(e.body.get("error", {}).get("code") if isinstance(e.body, dict) else None, "MEMBER_NOT_DELETED", "error code")


@check
def members_owner_cannot_be_deleted():
    e = api_error(lambda: client.crew_management_members.delete_member(ORG, owner["id"]), 422, "deleting the owner")
    equal(envelope_code(e), "CANNOT_DELETE_OWNER", "error code")
    equal(client.crew_management_members.get_member(ORG, owner["id"]).role.id, "role_owner", "the owner stays")


# ---- roles last: the roles list endpoint is the newest part of the server


@check
def roles_list():
    roles = client.organizations.list_roles(ORG)
    expect(all(isinstance(r, RoleResponse) for r in roles), "items are RoleResponse")
    equal([r.name for r in roles][:3], ["Owner", "Admin", "Member"], "system roles first, in order")
    equal([r.id for r in roles][:3], ["role_owner", "role_admin", "role_member"], "readable system role ids")
    expect(all(r.is_base_role and not r.is_custom for r in roles[:3]), "base roles are not custom")


@check
def roles_list_includes_custom_roles():
    made = http(
        "POST",
        f"/v1/organizations/{ORG}/roles",
        {"name": f"Auditor {SUFFIX}", "description": "Reads the audit log", "capabilities": ["view_audit_log"]},
        key=token,
    )
    roles = client.organizations.list_roles(ORG)
    custom = [r for r in roles if r.id == made["id"]]
    equal(len(custom), 1, "the custom role is listed once")
    r = custom[0]
    equal((r.name, r.is_custom, r.is_base_role, r.organization_id), (f"Auditor {SUFFIX}", True, False, ORG), "custom role")
    equal(roles[-1].id, made["id"], "custom roles come after the system roles")


# ---- API keys


@check
def api_keys_pause_and_unpause():
    made = client.api_keys.create_api_key(ORG, key_name=f"SDK pause {SUFFIX}")
    keyed = Aitronos(api_key=made.key, base_url=BASE, timeout=30)
    equal(keyed.organizations.get_organization(ORG).id, ORG, "a new key works")
    paused = client.api_keys.pause_api_key(ORG, made.id)
    expect(paused.success, f"pause succeeds: {paused!r}")
    equal(paused.key.is_paused, True, "the key is shown paused")
    e = api_error(lambda: keyed.organizations.get_organization(ORG), 401, "a paused key")
    equal(envelope_code(e), "API_KEY_PAUSED", "a paused key's code")
    equal(client.api_keys.get_api_key(ORG, made.id).is_paused, True, "get shows it paused")
    unpaused = client.api_keys.unpause_api_key(ORG, made.id)
    equal(unpaused.key.is_paused, False, "the key is shown unpaused")
    equal(keyed.organizations.get_organization(ORG).id, ORG, "an unpaused key works again")
    client.api_keys.deactivate_api_key(ORG, made.id)
    e = api_error(lambda: keyed.organizations.get_organization(ORG), 401, "a deactivated key")
    equal(envelope_code(e), "API_KEY_DEACTIVATED", "a deactivated key's code")


def main() -> int:
    try:
        setup()
    except Exception as e:
        print(f"FAIL setup: {type(e).__name__}: {e}")
        print(f"0 passed, {len(CHECKS)} failed")
        return 1
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn()
        except Failure as e:
            failed += 1
            print(f"FAIL {fn.__name__}: {e}")
        except Exception as e:  # an SDK validation error or an unexpected HTTP error
            failed += 1
            print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")
            traceback.print_exc(limit=3, file=sys.stdout)
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
