#!/usr/bin/env python3
"""Drive a running Roster with the official OpenAI Python SDK (openai 3.51.0),
through its admin API client (`client.admin.organization`).

The client validates every response against the SDK's pydantic models
(`_strict_response_validation=True`), so a missing required field, a wrong
type or a wrong `object` literal fails here. Every endpoint of the admin API
is called at least once, auto-pagination runs over several pages, and each
error class Roster produces (400, 401, 403, 404, 409) is checked, the 409
being sent exactly once (`x-should-retry: false`).

Usage:
    ROSTER_URL=http://127.0.0.1:8080 ROSTER_PLATFORM_KEY=... python tests/e2e/openai_sdk.py

Setup goes over plain HTTP with the platform key through the organization
API (users, an organization, members, an organization API key with the Owner
role); the checks then run through the SDK with that key. Every check runs
even after one fails; the last line is "N passed, M failed". Emails carry a
random suffix, so the script can run again against the same server.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import urllib.error
import urllib.request
import uuid

try:
    import httpx
    import openai
    from openai import OpenAI
except ImportError as e:  # pragma: no cover - environment problem, not a test failure
    sys.exit(f"error: cannot import the OpenAI SDK ({e}); pip install openai==3.51.0")


def env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        sys.exit(f"error: set {name}")
    return value


BASE = env("ROSTER_URL").rstrip("/")
PLATFORM_KEY = env("ROSTER_PLATFORM_KEY")
SUFFIX = uuid.uuid4().hex[:10]


class Failure(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise Failure(what)


def equal(got, want, what: str) -> None:
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


# ---- plain HTTP for the setup (the admin API cannot create users)


def http(method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("X-API-Key", PLATFORM_KEY)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as e:
        raise Failure(f"setup {method} {path} -> {e.code}: {e.read().decode(errors='replace')}") from None
    return json.loads(raw) if raw else {}


def new_user(first: str, last: str) -> dict:
    email = f"{first.lower()}.{SUFFIX}@example.test"
    user = http("POST", "/v1/users", {"email": email, "full_name": f"{first} {last}", "password": "correct horse battery"})
    user["email"] = email
    user["name"] = f"{first} {last}"
    return user


def fails(call, exc: type, status: int, what: str):
    """Runs `call`, which must raise `exc` with HTTP `status`; returns the error."""
    try:
        call()
    except exc as e:
        equal(e.status_code, status, f"{what}: status")
        expect(isinstance(e.body, dict) and "message" in e.body, f"{what}: error body {e.body!r}")
        expect(e.request_id is not None, f"{what}: x-request-id")
        return e
    except openai.APIStatusError as e:
        raise Failure(f"{what}: expected {exc.__name__} ({status}), got {type(e).__name__} {e.status_code}: {e.body}")
    raise Failure(f"{what}: expected {exc.__name__} ({status}), the call succeeded")


# ---- setup (filled in by setup())

owner = ada = ben = cleo = dan = {}
ORG = KEY = ""
admin = reader = None
SENT: list[str] = []


def count_request(request: httpx.Request) -> None:
    SENT.append(f"{request.method} {request.url.path}")


def client_with(key: str, **kw) -> OpenAI:
    return OpenAI(
        admin_api_key=key,
        base_url=f"{BASE}/v1",
        _strict_response_validation=True,
        timeout=30,
        http_client=httpx.Client(event_hooks={"request": [count_request]}),
        **kw,
    )


def setup() -> None:
    global owner, ada, ben, cleo, dan, ORG, KEY, admin, reader
    owner = new_user("Olga", "Owner")
    ada = new_user("Ada", "Lovelace")
    ben = new_user("Ben", "Baker")
    cleo = new_user("Cleo", "Costa")
    dan = new_user("Dan", "Dietz")
    org = http("POST", "/v1/organizations", {"name": f"OpenAI SDK {SUFFIX}", "type": "Work", "owner_user_id": owner["id"]})
    ORG = org["id"]
    for u in (ada, ben, cleo, dan):
        http("POST", f"/v1/organizations/{ORG}/members", {"user_id": u["id"]})
    KEY = http("POST", f"/v1/organizations/{ORG}/api-keys", {"key_name": "sdk", "role_id": "role_owner"})["key"]
    reader_key = http("POST", f"/v1/organizations/{ORG}/api-keys", {"key_name": "reader", "role_id": "role_member"})["key"]
    admin = client_with(KEY).admin.organization
    reader = client_with(reader_key).admin.organization


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


# ---- users


@check
def users_list_auto_paginates_over_pages():
    SENT.clear()
    users = list(admin.users.list(limit=2))
    equal([u.id for u in users], [owner["id"], ada["id"], ben["id"], cleo["id"], dan["id"]], "every user, in id order")
    equal(len([s for s in SENT if s.endswith("/organization/users")]), 3, "three pages of two")
    first = admin.users.list(limit=2)
    equal((first.has_more, first.last_id, first.first_id), (True, ada["id"], owner["id"]), "page envelope")
    u = users[1]
    equal((u.object, u.email, u.name, u.role), ("organization.user", ada["email"], "Ada Lovelace", "reader"), "user fields")
    expect(isinstance(u.added_at, int) and u.added_at > 1_600_000_000, "added_at in unix seconds")
    equal(users[0].role, "owner", "the owner shows as owner")


@check
def users_list_filters_by_emails():
    found = list(admin.users.list(emails=[ben["email"], cleo["email"]]))
    equal([u.id for u in found], [ben["id"], cleo["id"]], "emails[] filter")


@check
def users_retrieve_update_delete():
    u = admin.users.retrieve(ada["id"])
    equal((u.id, u.role), (ada["id"], "reader"), "retrieve")
    u = admin.users.update(ada["id"], role="owner")
    equal(u.role, "owner", "role updated")
    u = admin.users.update(ada["id"], role_id="role-api-organization-reader", developer_persona=None)
    equal(u.role, "reader", "role_id updated")
    gone = admin.users.delete(dan["id"])
    equal((gone.object, gone.id, gone.deleted), ("organization.user.deleted", dan["id"], True), "deleted envelope")
    fails(lambda: admin.users.retrieve(dan["id"]), openai.NotFoundError, 404, "a removed user")
    member = http("GET", f"/v1/organizations/{ORG}/users/{dan['id']}")
    equal(member.get("is_deleted"), True, "the organization API sees the removal")


# ---- organization roles and user role assignments


@check
def roles_crud_and_pagination():
    made = admin.roles.create(role_name=f"Auditor {SUFFIX}", permissions=["view_audit_log", "api.organization.audit_logs.read"], description="reads logs")
    equal((made.object, made.predefined_role, made.resource_type), ("role", False, "api.organization"), "created role")
    equal(admin.roles.retrieve(made.id).name, f"Auditor {SUFFIX}", "retrieve")
    up = admin.roles.update(made.id, description=None)
    equal(up.description, None, "description cleared by null")
    equal(http("GET", f"/v1/organizations/{ORG}/roles/{made.id}")["description"], None, "cleared, not stored empty")
    equal(up.name, f"Auditor {SUFFIX}", "name unchanged when absent")
    up = admin.roles.update(made.id, permissions=["view_audit_log"])
    equal(up.permissions, ["view_audit_log"], "permissions replaced")
    SENT.clear()
    roles = list(admin.roles.list(limit=2))
    expect(len(SENT) >= 4, f"several pages followed through next ({len(SENT)} requests)")
    ids = [r.id for r in roles]
    expect(f"role-api-organization-owner__api-organization__{ORG}" in ids, "predefined owner role listed")
    expect(made.id in ids, "the custom role listed")
    equal(len(ids), len(set(ids)), "no role twice across pages")
    desc = list(admin.roles.list(order="desc"))
    equal([r.id for r in desc], list(reversed(ids)), "order=desc")
    gone = admin.roles.delete(made.id)
    equal((gone.object, gone.id, gone.deleted), ("role.deleted", made.id, True), "role.deleted")


@check
def user_role_assignments_round_trip():
    role = admin.roles.create(role_name=f"Billing {SUFFIX}", permissions=["manage_billing"])
    made = admin.users.roles.create(ben["id"], role_id=role.id)
    equal((made.object, made.user.id, made.role.id), ("user.role", ben["id"], role.id), "user.role")
    held = list(admin.users.roles.list(ben["id"], limit=1))
    expect(role.id in [r.id for r in held], "listed across pages")
    got = admin.users.roles.retrieve(role.id, user_id=ben["id"])
    equal((got.id, got.predefined_role), (role.id, False), "retrieve")
    eff = http("GET", f"/v1/organizations/{ORG}/users/{ben['id']}/effective-permissions")
    expect("manage_billing" in eff["permissions"], "the organization API sees the assignment")
    gone = admin.users.roles.delete(role.id, user_id=ben["id"])
    equal((gone.object, gone.deleted), ("user.role.deleted", True), "user.role.deleted")
    fails(lambda: admin.users.roles.retrieve(role.id, user_id=ben["id"]), openai.NotFoundError, 404, "a removed assignment")


@check
def duplicate_assignment_is_a_409_sent_once():
    role = admin.roles.create(role_name=f"Dup {SUFFIX}", permissions=["view_audit_log"])
    admin.users.roles.create(cleo["id"], role_id=role.id)
    SENT.clear()
    e = fails(lambda: admin.users.roles.create(cleo["id"], role_id=role.id), openai.ConflictError, 409, "a duplicate")
    equal(e.code, "role_assignment_exists", "error code")
    equal(len(SENT), 1, "sent once, not retried")


# ---- groups


@check
def groups_users_and_roles():
    g = admin.groups.create(name=f"Readers {SUFFIX}")
    equal((g.group_type, g.is_scim_managed), ("group", False), "group")
    extra = [admin.groups.create(name=f"Extra {i} {SUFFIX}") for i in range(2)]
    SENT.clear()
    everything = list(admin.groups.list(limit=1))
    expect(len(SENT) >= 3, "groups paginate")
    expect({g.id, *[x.id for x in extra]} <= {x.id for x in everything}, "all groups listed")
    equal(admin.groups.retrieve(g.id).name, f"Readers {SUFFIX}", "retrieve")
    renamed = admin.groups.update(g.id, name=f"Renamed {SUFFIX}")
    equal(renamed.name, f"Renamed {SUFFIX}", "update")
    added = admin.groups.users.create(g.id, user_id=ada["id"])
    equal((added.object, added.user_id, added.group_id), ("group.user", ada["id"], g.id), "group.user")
    admin.groups.users.create(g.id, user_id=ben["id"])
    members = list(admin.groups.users.list(g.id, limit=1))
    equal([m.id for m in members], [ben["id"], ada["id"]], "newest first by default, over pages")
    one = admin.groups.users.retrieve(ada["id"], group_id=g.id)
    equal((one.id, one.user_type), (ada["id"], "user"), "group user")
    role = admin.roles.create(role_name=f"Group role {SUFFIX}", permissions=["view_audit_log"])
    gr = admin.groups.roles.create(g.id, role_id=role.id)
    equal((gr.object, gr.group.id, gr.role.id), ("group.role", g.id, role.id), "group.role")
    equal([r.id for r in admin.groups.roles.list(g.id)], [role.id], "group roles")
    equal(admin.groups.roles.retrieve(role.id, group_id=g.id).id, role.id, "group role retrieve")
    check_body = http("POST", f"/v1/organizations/{ORG}/check", {"user_id": ada["id"], "permission": "view_audit_log"})
    equal(check_body["allowed"], True, "a group's role reaches its members")
    via = [r for r in admin.users.roles.list(ada["id"]) if r.id == role.id]
    equal(len(via), 1, "the group's role in the member's list, once")
    equal([(s.principal_id, s.principal_type) for s in via[0].assignment_sources or []], [(g.id, "group")], "assignment_sources")
    equal(admin.groups.roles.delete(role.id, group_id=g.id).object, "group.role.deleted", "group role removed")
    equal(admin.groups.users.delete(ben["id"], group_id=g.id).object, "group.user.deleted", "group user removed")
    for x in extra:
        admin.groups.delete(x.id)
    gone = admin.groups.delete(g.id)
    equal((gone.object, gone.id, gone.deleted), ("group.deleted", g.id, True), "group.deleted")


# ---- invites


@check
def invites_round_trip():
    inv = admin.invites.create(email=f"newcomer.{SUFFIX}@example.test", role="reader")
    equal((inv.object, inv.status, inv.role, inv.projects), ("organization.invite", "pending", "reader", []), "invite")
    second = admin.invites.create(email=f"second.{SUFFIX}@example.test", role="owner")
    listed = list(admin.invites.list(limit=1))
    equal([i.id for i in listed], [inv.id, second.id], "invites over pages")
    equal(admin.invites.retrieve(inv.id).email, f"newcomer.{SUFFIX}@example.test", "retrieve")
    gone = admin.invites.delete(inv.id)
    equal((gone.object, gone.id, gone.deleted), ("organization.invite.deleted", inv.id, True), "invite deleted")
    e = fails(lambda: admin.invites.create(email=f"second.{SUFFIX}@example.test", role="reader"), openai.ConflictError, 409, "a second pending invite")
    equal(e.code, "invite_exists", "error code")


@check
def invites_with_projects():
    p1 = admin.projects.create(name=f"Invited one {SUFFIX}")
    p2 = admin.projects.create(name=f"Invited two {SUFFIX}")
    inv = admin.invites.create(
        email=f"projects.{SUFFIX}@example.test",
        role="reader",
        projects=[{"id": p2.id, "role": "member"}, {"id": p1.id, "role": "owner"}],
    )
    want = sorted([(p1.id, "owner"), (p2.id, "member")])
    equal([(p.id, p.role) for p in inv.projects], want, "invite projects")
    equal([(p.id, p.role) for p in admin.invites.retrieve(inv.id).projects], want, "retrieved with its projects")
    admin.projects.archive(p2.id)
    e = fails(
        lambda: admin.invites.create(email=f"refused.{SUFFIX}@example.test", role="reader", projects=[{"id": p1.id, "role": "member"}, {"id": p2.id, "role": "member"}]),
        openai.BadRequestError, 400, "an archived project",
    )
    equal((e.code, e.param), ("project_archived", "projects"), "error code")
    expect(all(i.email != f"refused.{SUFFIX}@example.test" for i in admin.invites.list()), "nothing of a refused invite written")
    equal(admin.invites.create(email=f"plain.{SUFFIX}@example.test", role="reader").projects, [], "no projects when omitted")


# ---- projects, project users, project groups


def new_project(name: str):
    return admin.projects.create(name=f"{name} {SUFFIX}")


@check
def projects_crud_archive_and_pagination():
    made = [new_project(f"P{i}") for i in range(3)]
    p = made[0]
    equal((p.object, p.status, p.archived_at), ("organization.project", "active", None), "project")
    SENT.clear()
    listed = list(admin.projects.list(limit=2))
    expect({x.id for x in made} <= {x.id for x in listed}, "projects over pages")
    expect(len(SENT) >= 2, "several pages")
    up = admin.projects.update(p.id, name=f"Renamed {SUFFIX}", external_key_id=None)
    equal(up.name, f"Renamed {SUFFIX}", "update")
    equal(admin.projects.retrieve(p.id).name, f"Renamed {SUFFIX}", "retrieve")
    arch = admin.projects.archive(made[2].id)
    equal(arch.status, "archived", "archived")
    active = [x.id for x in admin.projects.list()]
    expect(made[2].id not in active, "archived projects are hidden by default")
    expect(made[2].id in [x.id for x in admin.projects.list(include_archived=True)], "include_archived")
    e = fails(lambda: admin.projects.users.create(made[2].id, user_id=ada["id"], role="member"), openai.BadRequestError, 400, "writing an archived project")
    equal(e.code, "project_archived", "error code")


@check
def project_users_round_trip():
    p = new_project("Users")
    u = admin.projects.users.create(p.id, user_id=ada["id"], role="member")
    equal((u.object, u.id, u.role), ("organization.project.user", ada["id"], "member"), "project user")
    admin.projects.users.create(p.id, email=ben["email"], role="owner")
    listed = list(admin.projects.users.list(p.id, limit=1))
    equal([x.id for x in listed], [ada["id"], ben["id"]], "project users over pages")
    equal(admin.projects.users.retrieve(ada["id"], project_id=p.id).role, "member", "retrieve")
    equal(admin.projects.users.update(ada["id"], project_id=p.id, role="owner").role, "owner", "update")
    gone = admin.projects.users.delete(ben["id"], project_id=p.id)
    equal((gone.object, gone.id, gone.deleted), ("organization.project.user.deleted", ben["id"], True), "removed")
    e = fails(lambda: admin.projects.users.create(p.id, user_id=ada["id"], role="member"), openai.ConflictError, 409, "already in the project")
    equal(e.code, "project_user_exists", "error code")


@check
def project_groups_and_group_roles():
    p = new_project("Groups")
    g = admin.groups.create(name=f"Team {SUFFIX}")
    e = fails(lambda: admin.projects.groups.roles.create(g.id, project_id=p.id, role_id="role-api-project-viewer"), openai.BadRequestError, 400, "group not attached")
    equal((e.code, e.param), ("group_not_in_project", "group_id"), "error code and param")
    pg = admin.projects.groups.create(p.id, group_id=g.id, role="role-api-project-member")
    equal((pg.object, pg.group_id, pg.group_type), ("project.group", g.id, "group"), "project group")
    equal([x.group_id for x in admin.projects.groups.list(p.id)], [g.id], "project groups")
    equal(admin.projects.groups.retrieve(g.id, project_id=p.id, group_type="group").group_name, f"Team {SUFFIX}", "retrieve")
    gr = admin.projects.groups.roles.create(g.id, project_id=p.id, role_id="role-api-project-owner")
    equal((gr.object, gr.role.id), ("group.role", f"role-api-project-owner__api-project__{p.id}"), "project group role")
    ids = [r.id for r in admin.projects.groups.roles.list(g.id, project_id=p.id)]
    expect(f"role-api-project-owner__api-project__{p.id}" in ids and f"role-api-project-member__api-project__{p.id}" in ids, f"group roles {ids}")
    equal(admin.projects.groups.roles.retrieve("role-api-project-owner", project_id=p.id, group_id=g.id).predefined_role, True, "retrieve by short id")
    equal(admin.projects.groups.roles.delete("role-api-project-owner", project_id=p.id, group_id=g.id).object, "group.role.deleted", "removed")
    equal(admin.projects.groups.delete(g.id, project_id=p.id).object, "project.group.deleted", "detached")


# ---- project roles and the seed endpoint


@check
def project_roles_crud():
    p = new_project("Roles")
    made = admin.projects.roles.create(p.id, role_name=f"Reviewer {SUFFIX}", permissions=["api.project.read"])
    equal(made.resource_type, "api.project", "a project role")
    roles = list(admin.projects.roles.list(p.id, limit=2))
    expect(made.id in [r.id for r in roles] and f"role-api-project-owner__api-project__{p.id}" in [r.id for r in roles], "project roles over pages")
    equal(admin.projects.roles.retrieve(made.id, project_id=p.id).name, f"Reviewer {SUFFIX}", "retrieve")
    equal(admin.projects.roles.update(made.id, project_id=p.id, role_name=f"Reviewer 2 {SUFFIX}").name, f"Reviewer 2 {SUFFIX}", "update")
    gone = admin.projects.roles.delete(made.id, project_id=p.id)
    equal((gone.object, gone.id), ("role.deleted", made.id), "deleted")


@check
def seed_001_exact_body():
    p = new_project("Seed")
    role = admin.projects.roles.create(
        p.id,
        role_name="API Project Key Manager",
        permissions=["api.organization.projects.api_keys.read", "api.organization.projects.api_keys.write"],
        description="Allows managing API keys for the project",
    )
    e = fails(lambda: admin.projects.users.roles.create(ada["id"], project_id=p.id, role_id=role.id), openai.BadRequestError, 400, "not in the project")
    equal((e.code, e.param), ("user_not_in_project", "user_id"), "error code and param")
    admin.projects.users.create(p.id, user_id=ada["id"], role="member")
    raw = admin.projects.users.roles.with_raw_response.create(ada["id"], project_id=p.id, role_id=role.id)
    body = raw.http_response.json()
    member = admin.users.retrieve(ada["id"])
    equal(body, {
        "object": "user.role",
        "user": {"object": "organization.user", "id": ada["id"], "name": "Ada Lovelace", "email": ada["email"],
                 "role": member.role, "added_at": member.added_at},
        "role": {"object": "role", "id": role.id, "name": "API Project Key Manager",
                 "description": "Allows managing API keys for the project",
                 "permissions": ["api.organization.projects.api_keys.read", "api.organization.projects.api_keys.write"],
                 "resource_type": "api.project", "predefined_role": False},
    }, "the seed's body")
    parsed = raw.parse()
    equal((parsed.object, parsed.role.id), ("user.role", role.id), "parsed by the SDK")
    held = [r.id for r in admin.projects.users.roles.list(ada["id"], project_id=p.id)]
    expect(role.id in held, "listed")
    equal(admin.projects.users.roles.retrieve(role.id, project_id=p.id, user_id=ada["id"]).name, "API Project Key Manager", "retrieve")
    allowed = http("POST", f"/v1/organizations/{ORG}/check",
                   {"user_id": ada["id"], "permission": "api.organization.projects.api_keys.write", "project_id": p.id})
    equal(allowed["allowed"], True, "the organization API's check sees it in the project")
    SENT.clear()
    fails(lambda: admin.projects.users.roles.create(ada["id"], project_id=p.id, role_id=role.id), openai.ConflictError, 409, "duplicate")
    equal(len(SENT), 1, "the duplicate was sent once")
    gone = admin.projects.users.roles.delete(role.id, project_id=p.id, user_id=ada["id"])
    equal((gone.object, gone.deleted), ("user.role.deleted", True), "removed")


# ---- service accounts and project API keys


@check
def service_accounts_and_project_keys():
    p = new_project("Bots")
    sa = admin.projects.service_accounts.create(p.id, name="deployer")
    equal((sa.object, sa.role), ("organization.project.service_account", "member"), "service account")
    expect(sa.api_key is not None and sa.api_key.value.startswith("sk-svcacct-"), "first key with its value")
    bare = admin.projects.service_accounts.create(p.id, name="bare", create_service_account_only=True)
    equal(bare.api_key, None, "no key when asked")
    equal([x.id for x in admin.projects.service_accounts.list(p.id, limit=1)], [sa.id, bare.id], "accounts over pages")
    equal(admin.projects.service_accounts.retrieve(sa.id, project_id=p.id).name, "deployer", "retrieve")
    equal(admin.projects.service_accounts.update(sa.id, project_id=p.id, role="owner").role, "owner", "update")
    k = admin.projects.service_accounts.api_keys.create(sa.id, project_id=p.id, name="second", scopes=["api.all.read"])
    equal(k.object, "organization.project.service_account.api_key", "key")
    keys = list(admin.projects.api_keys.list(p.id, limit=1))
    equal({x.id for x in keys}, {sa.api_key.id, k.id}, "project keys over pages")
    one = admin.projects.api_keys.retrieve(k.id, project_id=p.id)
    equal((one.owner.type, one.owner.service_account.id), ("service_account", sa.id), "owner")
    equal(admin.projects.api_keys.update(k.id, project_id=p.id, expires_in_seconds=3600).id, k.id, "update")
    gone = admin.projects.api_keys.delete(k.id, project_id=p.id)
    equal((gone.object, gone.id, gone.deleted), ("organization.project.api_key.deleted", k.id, True), "key deleted")
    gone = admin.projects.service_accounts.delete(bare.id, project_id=p.id)
    equal((gone.object, gone.deleted), ("organization.project.service_account.deleted", True), "account deleted")


# ---- admin API keys


@check
def admin_api_keys_work_at_once_and_stop_at_once():
    made = admin.admin_api_keys.create(name=f"ci {SUFFIX}")
    expect(made.value.startswith("ak_"), "the value is shown once")
    fresh = client_with(made.value).admin.organization
    equal(fresh.users.retrieve(owner["id"]).id, owner["id"], "the new key works at once")
    more = [admin.admin_api_keys.create(name=f"k{i} {SUFFIX}") for i in range(2)]
    SENT.clear()
    listed = list(admin.admin_api_keys.list(limit=1))
    expect({made.id, *[m.id for m in more]} <= {k.id for k in listed}, "keys over pages (cursor: last item's id)")
    expect(len(SENT) >= 4, "several pages")
    equal(admin.admin_api_keys.retrieve(made.id).name, f"ci {SUFFIX}", "retrieve")
    gone = admin.admin_api_keys.delete(made.id)
    equal((gone.object, gone.id, gone.deleted), ("organization.admin_api_key.deleted", made.id, True), "deleted")
    fails(lambda: fresh.users.list(), openai.AuthenticationError, 401, "a deleted key")
    for m in more:
        admin.admin_api_keys.delete(m.id)


# ---- audit logs


@check
def audit_logs_with_filters_and_pages():
    SENT.clear()
    logs = list(admin.audit_logs.list(limit=5))
    expect(len(logs) > 10 and len(SENT) >= 3, "many entries over pages")
    types = {e.type for e in logs}
    expect({"role.created", "role.assignment.created", "project.created", "user.added"} <= types, f"types {types}")
    created = list(admin.audit_logs.list(event_types=["project.created"]))
    expect(created and all(e.type == "project.created" and e.project_created is not None for e in created), "event_types[] filter and payload")
    expect(all(e.project is not None for e in created), "project set on project events")
    windowed = list(admin.audit_logs.list(effective_at={"gte": logs[-1].effective_at, "lt": 4_000_000_000}, limit=100))
    expect(len(windowed) >= 1, "effective_at[gte]/[lt]")
    equal(list(admin.audit_logs.list(effective_at={"gt": 4_000_000_000})), [], "nothing in the future")
    by_actor = list(admin.audit_logs.list(actor_emails=[owner["email"]]))
    equal(by_actor, [], "the key did everything, not the owner's session")
    keyed = list(admin.audit_logs.list(actor_ids=[logs[0].actor.api_key.id], limit=100, tenant_only=False))
    expect(len(keyed) >= 1, "actor_ids[]")
    some_project = created[0].project.id
    by_project = list(admin.audit_logs.list(project_ids=[some_project]))
    expect(by_project, "project_ids[]")
    by_resource = list(admin.audit_logs.list(resource_ids=[some_project]))
    expect(by_resource, "resource_ids[]")
    newer = admin.audit_logs.list(before=logs[3].id, limit=2)
    equal([e.id for e in newer.data], [logs[1].id, logs[2].id], "before= lists the newer entries")


# ---- errors


@check
def error_classes():
    e = fails(lambda: admin.users.list(limit=1000), openai.BadRequestError, 400, "limit out of range")
    equal((e.code, e.param, e.type), ("invalid_value", "limit", "invalid_request_error"), "400 fields")
    e = fails(lambda: admin.roles.create(role_name="", permissions=["view_audit_log"]), openai.BadRequestError, 400, "empty role name")
    equal(e.param, "role_name", "param")
    e = fails(lambda: admin.users.roles.create(ada["id"], role_id="role-api-project-member"), openai.BadRequestError, 400, "project role at organization scope")
    equal(e.code, "invalid_role_scope", "code")
    bad = client_with("ak_not_a_real_key").admin.organization
    e = fails(lambda: bad.users.list(), openai.AuthenticationError, 401, "unknown key")
    equal(e.code, "invalid_api_key", "401 code")
    e = fails(lambda: reader.roles.create(role_name="nope", permissions=["view_audit_log"]), openai.PermissionDeniedError, 403, "a reader key writing")
    equal(e.code, "insufficient_permissions", "403 code")
    equal(len(list(reader.users.list())), 4, "a reader key reads")
    e = fails(lambda: admin.projects.retrieve("proj_doesnotexist"), openai.NotFoundError, 404, "unknown project")
    equal((e.code, e.message.endswith("No such project: proj_doesnotexist")), ("not_found", True), "404 fields")
    platform = client_with(PLATFORM_KEY).admin.organization
    e = fails(lambda: platform.users.list(), openai.BadRequestError, 400, "the platform key without OpenAI-Organization")
    equal(e.code, "missing_organization", "400 code")
    scoped = client_with(PLATFORM_KEY, organization=ORG).admin.organization
    equal(len(list(scoped.users.list())), 4, "the platform key with OpenAI-Organization")


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
        except Exception as e:  # a validation error or an unexpected HTTP error
            failed += 1
            print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")
            traceback.print_exc(limit=4, file=sys.stdout)
        else:
            passed += 1
            print(f"ok   {fn.__name__}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
