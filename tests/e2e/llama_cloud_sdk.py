#!/usr/bin/env python3
"""Drive a running Roster with LlamaCloud's official Python client (llama-cloud 0.1.20).

Every method of `client.organizations` runs against the server, and the
project methods Roster serves; the client parses each 2xx body with its
pydantic models, so a missing or mistyped field fails here.

Usage:
    ROSTER_URL=http://127.0.0.1:8080 ROSTER_PLATFORM_KEY=... python tests/e2e/llama_cloud_sdk.py

Users are created over plain HTTP with the platform key (the client has no
user endpoints) and signed in with Roster's login; everything else goes
through the client, signed in as those users. Every check runs even after one
fails; the last line is "N passed, M failed". Emails and names carry a random
suffix, so the script can run again against the same server.
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
    from llama_cloud.client import LlamaCloud
    from llama_cloud.core.api_error import ApiError
    from llama_cloud.errors.unprocessable_entity_error import UnprocessableEntityError
    from llama_cloud.types import (
        Organization,
        OrganizationCreate,
        Project,
        ProjectCreate,
        Role,
        UsageAndPlan,
        UserOrganization,
        UserOrganizationCreate,
        UserOrganizationDelete,
        UserOrganizationRole,
    )
except ImportError as e:  # pragma: no cover - environment problem, not a test failure
    sys.exit(f"error: cannot import the LlamaCloud client ({e}); pip install llama-cloud==0.1.20")


def env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        sys.exit(f"error: set {name}")
    return value


BASE = env("ROSTER_URL").rstrip("/")
PLATFORM_KEY = env("ROSTER_PLATFORM_KEY")
SUFFIX = uuid.uuid4().hex[:10]
PASSWORD = "correct horse battery staple"
NO_ACCESS = "User does not have access to this resource"


class Failure(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise Failure(what)


def equal(got, want, what: str) -> None:
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


def is_uuid(s: str) -> bool:
    try:
        return str(uuid.UUID(s)) == s
    except (ValueError, TypeError):
        return False


def http(method: str, path: str, body=None, key: str = PLATFORM_KEY):
    """Plain HTTP with a Bearer credential; returns (status, parsed body)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    return status, (json.loads(raw) if raw else None)


def setup_http(method: str, path: str, body=None, key: str = PLATFORM_KEY):
    status, out = http(method, path, body, key)
    if status >= 300:
        raise Failure(f"setup {method} {path} -> {status}: {out!r}")
    return out


def new_user(first: str) -> dict:
    email = f"{first.lower()}.{SUFFIX}@example.test"
    user = setup_http("POST", "/v1/users", {"email": email, "full_name": f"{first} Tester", "password": PASSWORD})
    user["email"] = email
    user["token"] = setup_http("POST", "/v1/auth/login", {"email": email, "password": PASSWORD})["access_token"]
    return user


def sdk(user: dict) -> LlamaCloud:
    return LlamaCloud(token=user["token"], base_url=BASE, timeout=30)


def api_error(call, status: int, what: str) -> ApiError:
    """Runs `call`, which must fail with HTTP `status`; returns the error."""
    try:
        call()
    except ApiError as e:
        equal(e.status_code, status, f"{what}: status ({e.body!r})")
        return e
    raise Failure(f"{what}: expected HTTP {status}, the call succeeded")


# ---- setup (filled in by setup())

owner = ada = ben = chloe = {}
ORG = ""
client: LlamaCloud
roles: dict = {}


def setup() -> None:
    global owner, ada, ben, chloe, ORG, client, roles
    owner, ada, ben, chloe = (new_user(n) for n in ("Olga", "Ada", "Ben", "Chloe"))
    client = sdk(owner)
    org = client.organizations.create_organization(request=OrganizationCreate(name=f"Llama {SUFFIX}"))
    ORG = org.id
    roles = {r.name: r for r in client.organizations.list_roles(ORG)}


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


# ---- organizations


@check
def organization_created_here_is_the_same_everywhere():
    o = client.organizations.get_organization(ORG)
    expect(isinstance(o, Organization) and is_uuid(o.id), f"a UUID id: {o.id!r}")
    equal(o.name, f"Llama {SUFFIX}", "name")
    native = setup_http("GET", "/v1/organizations", key=owner["token"])["organizations"]
    equal([x["name"] for x in native], [f"Llama {SUFFIX}"], "the organization API lists it for its creator")
    equal(native[0]["owner_id"], owner["id"], "the creator is its owner")


@check
def organizations_list_and_upsert():
    again = client.organizations.upsert_organization(request=OrganizationCreate(name=f"llama {SUFFIX}"))
    equal(again.id, ORG, "upsert finds the caller's organization by name")
    other = client.organizations.upsert_organization(request=OrganizationCreate(name=f"Other {SUFFIX}"))
    expect(other.id != ORG, "upsert of a new name creates one")
    listed = client.organizations.list_organizations()
    expect(all(isinstance(x, Organization) for x in listed), "items are Organization")
    equal(sorted(x.id for x in listed), sorted([ORG, other.id]), "both listed")
    equal(client.organizations.delete_organization(other.id), None, "delete returns nothing")
    e = api_error(lambda: client.organizations.get_organization(other.id), 404, "a deleted organization")
    equal(e.body, {"detail": "Organization not found"}, "404 body")


@check
def organization_update():
    o = client.organizations.update_organization(ORG, name=f"Llama {SUFFIX} renamed")
    equal(o.name, f"Llama {SUFFIX} renamed", "renamed")
    o = client.organizations.update_organization(ORG, name=f"Llama {SUFFIX}")
    equal(o.name, f"Llama {SUFFIX}", "renamed back")


@check
def default_organization():
    first = client.organizations.get_default_organization()
    equal(first.id, ORG, "without a choice, the oldest membership")
    scratch = client.organizations.create_organization(request=OrganizationCreate(name=f"Scratch {SUFFIX}"))
    chosen = client.organizations.set_default_organization(organization_id=scratch.id)
    equal(chosen.id, scratch.id, "set returns the organization")
    equal(client.organizations.get_default_organization().id, scratch.id, "the choice sticks")
    client.organizations.delete_organization(scratch.id)
    equal(client.organizations.get_default_organization().id, ORG, "a deleted default falls back")


@check
def usage():
    u = client.organizations.get_organization_usage(ORG, get_current_invoice_total=True)
    expect(isinstance(u, UsageAndPlan), "UsageAndPlan")
    expect(u.usage.total_users >= 1, "counts members")


# ---- users and roles


@check
def roles_list():
    listed = client.organizations.list_roles(ORG)
    expect(all(isinstance(r, Role) for r in listed), "items are Role")
    for name in ("Owner", "Admin", "Member"):
        expect(name in roles, f"built-in role {name}")
        equal(roles[name].organization_id, None, f"{name} is built in")
        expect(is_uuid(roles[name].id), "role ids are UUIDs")
    perms = {p.name: p for p in roles["Admin"].permissions}
    expect(perms["manage_roles"].access is True, "Admin grants manage_roles")
    expect(all(is_uuid(p.id) for p in perms.values()), "permission ids are UUIDs")
    status, raw = http("GET", f"/api/v1/organizations/{ORG}/roles", key=owner["token"])
    equal(status, 200, "raw list")
    expect(all("description" in p for r in raw for p in r["permissions"]), "description is always present")


@check
def users_add_list_and_roles():
    added = client.organizations.add_users_to_organization(
        ORG,
        request=[
            UserOrganizationCreate(user_id=ada["id"], project_ids=None),
            UserOrganizationCreate(email=ben["email"], role_id=roles["Admin"].id, project_ids=None),
            UserOrganizationCreate(email=chloe["email"]),
            UserOrganizationCreate(email=f"newcomer.{SUFFIX}@example.test"),
        ],
    )
    expect(all(isinstance(x, UserOrganization) for x in added), "items are UserOrganization")
    equal([x.user_id for x in added[:3]], [ada["id"], ben["id"], chloe["id"]], "existing users linked, in order")
    equal([x.pending for x in added], [False, False, False, True], "only the unknown email is pending")
    equal(added[3].user_id, None, "an invitee has no user yet")
    equal(added[1].roles[0].role.name, "Admin", "the entry's role")
    listed = client.organizations.list_organization_users(ORG)
    by_email = {x.email: x for x in listed}
    equal(by_email[owner["email"]].roles[0].role.name, "Owner", "the creator is Owner")
    equal(by_email[ada["email"]].roles[0].role.name, "Member", "the default role is Member")
    expect(f"newcomer.{SUFFIX}@example.test" in by_email, "the invitee is listed")
    again = client.organizations.add_users_to_organization(ORG, request=[UserOrganizationCreate(user_id=ada["id"])])
    equal(again[0].id, by_email[ada["email"]].id, "adding a member again changes nothing")


@check
def assign_role_seed_endpoint():
    a = client.organizations.assign_role_to_user_in_organization(
        ORG, user_id=ada["id"], user_organization_role_create_organization_id=ORG, role_id=roles["Admin"].id
    )
    expect(isinstance(a, UserOrganizationRole), "UserOrganizationRole")
    equal((a.user_id, a.organization_id, a.role_id, a.role.name), (ada["id"], ORG, roles["Admin"].id, "Admin"), "assignment")
    expect(is_uuid(a.id) and len(a.role.permissions) > 0, "nested role with permissions")
    b = client.organizations.assign_role_to_user_in_organization(
        ORG, user_id=ada["id"], user_organization_role_create_organization_id=ORG, role_id=roles["Admin"].id
    )
    equal(b.id, a.id, "repeating it changes nothing")
    mine = sdk(ada).organizations.get_user_role(ORG)
    equal((mine.role.name, mine.id), ("Admin", a.id), "the user's own role")
    listed = {x.user_id: x for x in client.organizations.list_organization_users(ORG)}
    equal([r.role.name for r in listed[ada["id"]].roles], ["Admin"], "one organization role")
    native = setup_http("GET", "/v1/organizations", key=ada["token"])["organizations"][0]["id"]
    member = setup_http("GET", f"/v1/organizations/{native}/users/{ada['id']}", key=owner["token"])
    equal(member["role"]["id"], "role_admin", "the organization API sees the new primary role")


@check
def validation_errors():
    try:
        client.organizations.assign_role_to_user_in_organization(
            ORG, user_id=ada["id"], user_organization_role_create_organization_id=ORG, role_id="abc"
        )
    except UnprocessableEntityError as e:
        detail = e.body.detail
        equal([(d.loc, d.type) for d in detail], [(["body", "role_id"], "uuid_parsing")], "422 detail")
    else:
        raise Failure("a non-UUID role_id was accepted")
    try:
        client.organizations.get_organization("not-a-uuid")
    except UnprocessableEntityError as e:
        equal(e.body.detail[0].loc, ["path", "organization_id"], "path loc")
    else:
        raise Failure("a non-UUID organization id was accepted")


@check
def member_cannot_write():
    e = api_error(lambda: sdk(chloe).organizations.update_organization(ORG, name="nope"), 403, "a Member renaming")
    equal(e.body, {"detail": NO_ACCESS}, "403 body")
    e = api_error(
        lambda: sdk(chloe).organizations.assign_role_to_user_in_organization(
            ORG, user_id=chloe["id"], user_organization_role_create_organization_id=ORG, role_id=roles["Owner"].id
        ),
        403,
        "a Member promoting themself",
    )


@check
def custom_role_extension_parses_as_role():
    status, made = http(
        "POST",
        f"/api/v1/organizations/{ORG}/roles",
        {"name": f"Auditor {SUFFIX}", "permissions": [{"name": "view_audit_log", "access": True}, {"name": "manage_users", "access": False}]},
        key=owner["token"],
    )
    equal(status, 200, f"create role: {made!r}")
    role = Role.parse_obj(made)
    equal(role.organization_id, ORG, "a custom role belongs to the organization")
    equal({p.name: p.access for p in role.permissions}, {"view_audit_log": True, "manage_users": False}, "grants and denials")
    listed = [r for r in client.organizations.list_roles(ORG) if r.id == role.id]
    equal(len(listed), 1, "listed")
    status, _ = http("DELETE", f"/api/v1/organizations/{ORG}/roles/{role.id}", key=owner["token"])
    equal(status, 204, "deleted")


# ---- projects


@check
def projects_and_user_projects():
    p = client.projects.create_project(organization_id=ORG, request=ProjectCreate(name=f"Docs {SUFFIX}"))
    expect(isinstance(p, Project) and is_uuid(p.id), "Project")
    equal(p.organization_id, ORG, "in the organization")
    same = client.projects.upsert_project(organization_id=ORG, request=ProjectCreate(name=f"Docs {SUFFIX}"))
    equal(same.id, p.id, "upsert finds it by name")
    equal([x.id for x in client.projects.list_projects(organization_id=ORG)], [p.id], "listed")
    equal(client.projects.get_project(p.id).id, p.id, "found without naming the organization")
    renamed = client.projects.update_existing_project(p.id, name=f"Docs {SUFFIX} v2")
    equal(renamed.name, f"Docs {SUFFIX} v2", "renamed")
    client.organizations.add_user_to_project(ORG, ada["id"], project_id=p.id)
    client.organizations.add_user_to_project(ORG, ada["id"], project_id=p.id)
    mine = client.organizations.list_projects_by_user(ORG, ada["id"])
    expect(all(isinstance(x, Project) for x in mine), "items are Project")
    equal([x.id for x in mine], [p.id], "the user's projects")
    equal(client.organizations.remove_user_from_project(ORG, ada["id"], p.id), {}, "remove answers {}")
    equal(client.organizations.list_projects_by_user(ORG, ada["id"]), [], "gone")
    equal(client.projects.delete_project(p.id), None, "delete returns nothing")
    api_error(lambda: client.projects.get_project(p.id), 404, "a deleted project")


# ---- removing users (last: they change the membership)


@check
def remove_users():
    equal(client.organizations.remove_users_from_organization(ORG, chloe["id"]), None, "remove one")
    equal(
        client.organizations.batch_remove_users_from_organization(ORG, request=[UserOrganizationDelete(email=ben["email"])]),
        None,
        "remove a batch",
    )
    left = {x.user_id for x in client.organizations.list_organization_users(ORG)}
    expect(chloe["id"] not in left and ben["id"] not in left, "both removed")
    e = api_error(lambda: client.organizations.remove_users_from_organization(ORG, owner["id"]), 409, "removing the owner")
    expect(isinstance(e.body, dict) and isinstance(e.body.get("detail"), str), "a detail message")


def main() -> int:
    try:
        setup()
    except Exception as e:
        print(f"FAIL setup: {type(e).__name__}: {e}")
        traceback.print_exc(limit=3, file=sys.stdout)
        print(f"0 passed, {len(CHECKS)} failed")
        return 1
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn()
        except Failure as e:
            failed += 1
            print(f"FAIL {fn.__name__}: {e}")
        except Exception as e:  # a client validation error or an unexpected HTTP error
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
