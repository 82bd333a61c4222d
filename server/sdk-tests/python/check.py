#!/usr/bin/env python3
"""Drive Scalekit's official Python SDK against a running ``orgstore serve``.

The SDK (``scalekit-sdk-python``, pinned in requirements.txt) always speaks gRPC
over TLS, so the server must run with a certificate, and the CA that signed it
must be trusted by both halves of the SDK:

  SCALEKIT_ENV_URL                  https://localhost:PORT
  SCALEKIT_CLIENT_ID                client id the server accepts
  SCALEKIT_CLIENT_SECRET            its secret
  GRPC_DEFAULT_SSL_ROOTS_FILE_PATH  CA file for the gRPC channel
  REQUESTS_CA_BUNDLE                CA file for the token call (requests)
  CHECK_TOTAL_SIZE=0                optional: skip comparing total_size with the number
                                    of organizations listed (for a shared, busy server)
  KEEP_ORGS=1                       optional: keep the organizations this run created

Output: one line per check, ``PASS <what>`` or ``FAIL <what>: <details>``, then
one ``SUMMARY`` line. Exit code 0 when every check passed, 1 on the first
mismatch, 2 when the environment is incomplete or the SDK cannot be imported.
"""

import os
import re
import secrets
import sys
import time

try:
    import grpc
    from scalekit import ScalekitClient
    from scalekit._version import __version__ as SDK_VERSION
    from scalekit.common.exceptions import (
        ScalekitBadRequestException,
        ScalekitConflictException,
        ScalekitNotFoundException,
        ScalekitNotImplementedException,
        ScalekitServerException,
        ScalekitUnauthorizedException,
    )
    from scalekit.v1.errdetails.errdetails_pb2 import ErrorInfo
    from scalekit.v1.organizations.organizations_pb2 import (
        CreateOrganization,
        UpdateOrganization,
    )
except ImportError as exc:  # pragma: no cover - environment problem, not a check
    print(f"cannot import the Scalekit SDK: {exc}", file=sys.stderr)
    print("install it: pip install -r requirements.txt", file=sys.stderr)
    sys.exit(2)


# ------------------------------------------------------------------ reporting

PASSED = 0


def summary_and_exit(code, stopped_at=None):
    tail = f", 1 failed (stopped at: {stopped_at})" if stopped_at else ", 0 failed"
    print(f"SUMMARY python sdk {SDK_VERSION}: {PASSED} passed{tail}", flush=True)
    sys.exit(code)


def ok(what):
    global PASSED
    PASSED += 1
    print(f"PASS {what}", flush=True)


def fail(what, details):
    print(f"FAIL {what}: {details}", flush=True)
    summary_and_exit(1, what)


def describe_error(exc):
    if isinstance(exc, ScalekitServerException):
        grpc_status = getattr(exc.grpc_status, "name", exc.grpc_status)
        return (f"{type(exc).__name__} grpc_status={grpc_status} http_status={int(exc.http_status)} "
                f"error_code={exc.error_code!r} message={exc.message!r}")
    return f"{type(exc).__name__}: {exc}"


def expect_equal(what, actual, expected):
    if actual != expected:
        fail(what, f"expected {expected!r}, got {actual!r}")


def expect_true(what, condition, details):
    if not condition:
        fail(what, details)


def call(what, fn):
    """Run one SDK call; the SDK returns (response, grpc call) pairs, keep the response."""
    try:
        result = fn()
    except Exception as exc:  # any exception here is a failed check
        fail(what, f"unexpected error: {describe_error(exc)}")
    if isinstance(result, tuple):
        return result[0]
    return result


def expect_server_error(what, fn, cls, grpc_status, http_status, error_code=None, message_includes=None):
    try:
        result = fn()
    except Exception as exc:
        if not isinstance(exc, cls):
            fail(what, f"expected {cls.__name__}, got {describe_error(exc)}")
        expect_equal(f"{what} (grpc_status)", exc.grpc_status, grpc_status)
        expect_equal(f"{what} (http_status)", int(exc.http_status), http_status)
        if error_code is not None:
            expect_equal(f"{what} (error_code)", exc.error_code, error_code)
        if message_includes is not None:
            expect_true(what, message_includes in str(exc.message).lower(),
                        f"message {exc.message!r} does not mention {message_includes!r}")
        return exc
    fail(what, f"expected {cls.__name__}, but the call succeeded: {result!r}")


# ------------------------------------------------------------------ helpers

def require_env(name):
    value = os.environ.get(name)
    if not value:
        print(f"missing environment variable {name}", file=sys.stderr)
        sys.exit(2)
    return value


def features(org):
    return [(f.name, f.enabled) for f in org.settings.features]


def plain(org):
    """Reduce an Organization message to the fields the server owns."""
    return {
        "id": org.id,
        "display_name": org.display_name,
        "region_code": org.region_code,
        "external_id": org.external_id if org.HasField("external_id") else None,
        "slug": org.slug if org.HasField("slug") else None,
        "logo_url": org.logo_url if org.HasField("logo_url") else None,
        "metadata": dict(org.metadata),
        "features": features(org),
        "create_time": org.create_time.ToMicroseconds() if org.HasField("create_time") else None,
        "update_time": org.update_time.ToMicroseconds() if org.HasField("update_time") else None,
    }


def error_infos(exc):
    """The ErrorInfo details of a server exception (err_details holds google.protobuf.Any values)."""
    infos = []
    for detail in exc.err_details or []:
        info = ErrorInfo()
        if detail.Unpack(info):
            infos.append(info)
    return infos


def org_of(what, response):
    if response is None or not response.HasField("organization"):
        fail(what, f"response has no organization: {response!r}")
    return response.organization


# ------------------------------------------------------------------ the run

def main():
    env_url = require_env("SCALEKIT_ENV_URL")
    client_id = require_env("SCALEKIT_CLIENT_ID")
    client_secret = require_env("SCALEKIT_CLIENT_SECRET")
    if not env_url.startswith("https://"):
        print("SCALEKIT_ENV_URL must be https://...: the Python SDK always opens a TLS gRPC channel",
              file=sys.stderr)
        sys.exit(2)
    for name in ("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "REQUESTS_CA_BUNDLE"):
        if not os.environ.get(name):
            print(f"note: {name} is not set; the server certificate must then be trusted by the system roots",
                  file=sys.stderr)
    check_total_size = os.environ.get("CHECK_TOTAL_SIZE") != "0"
    keep_orgs = os.environ.get("KEEP_ORGS") == "1"

    run = "p" + format(int(time.time() * 1000), "x") + secrets.token_hex(3)
    ext = f"{run}-main"
    ext_renamed = f"{run}-main-renamed"
    slug = f"{run}-main"
    logo_url = f"https://cdn.example.com/{run}/logo.png"
    created = []

    print(f"run {run} against {env_url} with scalekit-sdk-python {SDK_VERSION}", flush=True)

    # --- authentication: the SDK fetches its token in the constructor.
    what = "wrong client secret is refused by POST /oauth/token with 401 invalid_client"
    try:
        ScalekitClient(env_url, client_id, client_secret + "-wrong")
    except ScalekitUnauthorizedException as exc:
        expect_equal(f"{what} (http_status)", int(exc.http_status), 401)
        expect_true(what, "invalid_client" in str(exc.err_details),
                    f"token error body {exc.err_details!r} does not say invalid_client")
        ok(what)
    except Exception as exc:
        fail(what, f"expected ScalekitUnauthorizedException, got {describe_error(exc)}")
    else:
        fail(what, "the client was constructed, so the token endpoint accepted a wrong secret")

    what = "ScalekitClient obtains a token with the right secret"
    try:
        client = ScalekitClient(env_url, client_id, client_secret)
    except Exception as exc:
        fail(what, describe_error(exc))
    ok(what)
    orgs = client.organization

    # --- create with external id, slug, logo url and metadata (Python can send metadata on create).
    what = "create_organization with external_id, slug, logo_url, metadata"
    metadata = {"plan": "gold", "seats": "12"}
    res = call(what, lambda: orgs.create_organization(CreateOrganization(
        display_name=f"Py Main {run}", external_id=ext, slug=slug, logo_url=logo_url, metadata=metadata)))
    main_org = plain(org_of(what, res))
    created.append(main_org["id"])
    expect_true(what, re.fullmatch(r"org_[0-9A-Za-z]{1,28}", main_org["id"]) is not None,
                f"id {main_org['id']!r} is not org_<alphanumerics>")
    expect_equal(f"{what} (display_name)", main_org["display_name"], f"Py Main {run}")
    expect_equal(f"{what} (external_id)", main_org["external_id"], ext)
    expect_equal(f"{what} (slug)", main_org["slug"], slug)
    expect_equal(f"{what} (logo_url)", main_org["logo_url"], logo_url)
    expect_equal(f"{what} (metadata)", main_org["metadata"], metadata)
    expect_equal(f"{what} (features)", main_org["features"], [])
    expect_true(what, main_org["region_code"] in (1, 2),
                f"region_code {main_org['region_code']} is neither US (1) nor EU (2)")
    expect_true(what, main_org["create_time"] is not None and main_org["update_time"] is not None,
                "create_time or update_time missing")
    expect_true(what, main_org["update_time"] >= main_org["create_time"], "update_time < create_time")
    ok(what)

    # --- get by id and by external id.
    what = "get_organization(id) returns what create returned"
    expect_equal(what, plain(org_of(what, call(what, lambda: orgs.get_organization(main_org["id"])))), main_org)
    ok(what)
    what = "get_organization_by_external_id returns the same organization"
    expect_equal(what, plain(org_of(what, call(what, lambda: orgs.get_organization_by_external_id(ext)))), main_org)
    ok(what)

    oid = main_org["id"]

    def reread(label):
        return plain(org_of(label, call(label, lambda: orgs.get_organization(oid))))

    # --- update by id: display name and a new metadata map.
    what = "update_organization(id) sets display_name and replaces metadata"
    new_meta = {"tier": "one", "region": "north"}
    upd = plain(org_of(what, call(what, lambda: orgs.update_organization(
        oid, UpdateOrganization(display_name=f"Py Renamed {run}", metadata=new_meta)))))
    expect_equal(f"{what} (display_name)", upd["display_name"], f"Py Renamed {run}")
    expect_equal(f"{what} (metadata)", upd["metadata"], new_meta)
    expect_equal(f"{what} (external_id kept)", upd["external_id"], ext)
    expect_equal(f"{what} (slug kept)", upd["slug"], slug)
    expect_equal(f"{what} (logo_url kept)", upd["logo_url"], logo_url)
    expect_equal(f"{what} (create_time kept)", upd["create_time"], main_org["create_time"])
    expect_true(what, upd["update_time"] >= main_org["update_time"], "update_time went back")
    ok(what)
    what = "update_organization(id) persisted (re-read with get_organization)"
    expect_equal(what, reread(what), upd)
    ok(what)

    # --- a name-only update keeps metadata.
    what = "name-only update_organization keeps metadata"
    upd = plain(org_of(what, call(what, lambda: orgs.update_organization(
        oid, UpdateOrganization(display_name=f"Py Name Only {run}")))))
    expect_equal(f"{what} (display_name)", upd["display_name"], f"Py Name Only {run}")
    expect_equal(f"{what} (metadata)", upd["metadata"], new_meta)
    expect_equal(f"{what} (re-read)", reread(what), upd)
    ok(what)

    # --- update by external id.
    what = "update_organization_by_external_id sets display_name and replaces metadata"
    ext_meta = {"tier": "platinum"}
    upd = plain(org_of(what, call(what, lambda: orgs.update_organization_by_external_id(
        ext, UpdateOrganization(display_name=f"Py By Ext {run}", metadata=ext_meta)))))
    expect_equal(f"{what} (id)", upd["id"], oid)
    expect_equal(f"{what} (display_name)", upd["display_name"], f"Py By Ext {run}")
    expect_equal(f"{what} (metadata)", upd["metadata"], ext_meta)
    ok(what)
    what = "update_organization_by_external_id persisted (re-read with get_organization)"
    expect_equal(what, reread(what), upd)
    ok(what)

    # --- change the external id and back.
    what = "update_organization(id) changes external_id"
    upd = plain(org_of(what, call(what, lambda: orgs.update_organization(
        oid, UpdateOrganization(external_id=ext_renamed)))))
    expect_equal(what, upd["external_id"], ext_renamed)
    got = plain(org_of(what, call(what, lambda: orgs.get_organization_by_external_id(ext_renamed))))
    expect_equal(f"{what} (found under the new external_id)", got["id"], oid)
    ok(what)
    what = "the old external_id no longer finds it (ScalekitNotFoundException)"
    expect_server_error(what, lambda: orgs.get_organization_by_external_id(ext),
                        ScalekitNotFoundException, grpc.StatusCode.NOT_FOUND, 404)
    ok(what)
    what = "update_organization_by_external_id(new) changes external_id back"
    upd = plain(org_of(what, call(what, lambda: orgs.update_organization_by_external_id(
        ext_renamed, UpdateOrganization(external_id=ext)))))
    expect_equal(what, upd["external_id"], ext)
    got = plain(org_of(what, call(what, lambda: orgs.get_organization_by_external_id(ext))))
    expect_equal(f"{what} (found under the original external_id)", got["id"], oid)
    ok(what)

    # --- "" clears logo_url.
    what = 'update_organization with logo_url "" clears it'
    upd = plain(org_of(what, call(what, lambda: orgs.update_organization(oid, UpdateOrganization(logo_url="")))))
    expect_equal(f"{what} (logo_url)", upd["logo_url"], None)
    expect_equal(f"{what} (slug kept)", upd["slug"], slug)
    expect_equal(f"{what} (metadata kept)", upd["metadata"], ext_meta)
    expect_equal(f"{what} (re-read)", reread(what), upd)
    ok(what)

    # --- settings.
    what = "update_organization_settings enables sso and dir_sync in request order"
    res = call(what, lambda: orgs.update_organization_settings(
        oid, [{"name": "sso", "enabled": True}, {"name": "dir_sync", "enabled": True}]))
    expect_equal(what, features(org_of(what, res)), [("sso", True), ("dir_sync", True)])
    ok(what)
    what = "update_organization_settings disabling sso keeps it listed with enabled false, order kept"
    res = call(what, lambda: orgs.update_organization_settings(oid, [{"name": "sso", "enabled": False}]))
    expect_equal(what, features(org_of(what, res)), [("sso", False), ("dir_sync", True)])
    got = reread(what)
    expect_equal(f"{what} (re-read)", got["features"], [("sso", False), ("dir_sync", True)])
    expect_equal(f"{what} (metadata untouched)", got["metadata"], ext_meta)
    ok(what)
    what = "update_organization_settings appends new names in the order sent, existing ones keep their place"
    res = call(what, lambda: orgs.update_organization_settings(
        oid, [{"name": "domain_verification", "enabled": True}, {"name": "dir_sync", "enabled": False}]))
    expect_equal(what, features(org_of(what, res)),
                 [("sso", False), ("dir_sync", False), ("domain_verification", True)])
    ok(what)
    what = "update_organization_settings with a name twice is ScalekitBadRequestException INVALID_ARGUMENT"
    expect_server_error(what, lambda: orgs.update_organization_settings(
        oid, [{"name": "sso", "enabled": True}, {"name": "sso", "enabled": False}]),
        ScalekitBadRequestException, grpc.StatusCode.INVALID_ARGUMENT, 400, error_code="INVALID_ARGUMENT")
    expect_equal(f"{what} (nothing written)", reread(what)["features"][0], ("sso", False))
    ok(what)

    # --- listing.
    list_ids = []
    for i in range(12):
        what = f"create_organization list-{i:02d}"
        org = org_of(what, call(what, lambda: orgs.create_organization(CreateOrganization(
            display_name=f"Py List {i:02d} {run}", external_id=f"{run}-list-{i:02d}"))))
        list_ids.append(org.id)
        created.append(org.id)
    ok("created 12 more organizations for listing")

    what = "list_organizations(page_size=5) followed to the end"
    mine = {oid, *list_ids}
    seen = set()
    mine_in_order = []
    token = None
    total_size = None
    pages = 0
    while True:
        pages += 1
        res = call(f"{what} (page {pages})", lambda: orgs.list_organizations(page_size=5, page_token=token))
        if total_size is None:
            total_size = res.total_size
        page = list(res.organizations)
        expect_true(what, len(page) <= 5, f"page {pages} holds {len(page)} organizations (page size 5)")
        for org in page:
            expect_true(what, org.id not in seen, f"organization {org.id} listed twice (page {pages})")
            seen.add(org.id)
            if org.id in mine:
                mine_in_order.append(org.id)
        nxt = res.next_page_token
        if nxt == "":
            break
        expect_equal(f"{what} (a page before the last is full)", len(page), 5)
        expect_true(what, nxt != token, f"page {pages} returned the token it was asked with")
        expect_true(what, pages <= -(-total_size // 5) + 2,
                    f"more pages ({pages}) than total_size {total_size} allows")
        token = nxt
    expect_equal(f"{what} (every organization of this run seen once, newest first)",
                 mine_in_order, list(reversed(list_ids)) + [oid])
    expect_true(what, total_size >= len(mine),
                f"total_size {total_size} < {len(mine)} organizations created by this run")
    if check_total_size:
        expect_equal(f"{what} (total_size equals organizations listed)", len(seen), total_size)
    ok(f'{what}: {pages} pages, {len(seen)} organizations, last next_page_token ""')

    what = "list_organizations() without page_size returns the default page of 10"
    res = call(what, lambda: orgs.list_organizations())
    expect_equal(f"{what} (page length)", len(res.organizations), 10)
    expect_true(what, res.next_page_token != "", 'next_page_token is "" although more than 10 organizations exist')
    ok(what)

    # --- conflicts and validation.
    what = "duplicate external_id is ScalekitConflictException (ALREADY_EXISTS, http 409)"
    expect_server_error(what, lambda: orgs.create_organization(CreateOrganization(
        display_name=f"Py Dup {run}", external_id=ext)),
        ScalekitConflictException, grpc.StatusCode.ALREADY_EXISTS, 409,
        error_code="ALREADY_EXISTS", message_includes="already exists")
    ok(what)
    what = "duplicate slug is ScalekitConflictException (ALREADY_EXISTS, http 409)"
    expect_server_error(what, lambda: orgs.create_organization(CreateOrganization(
        display_name=f"Py Dup Slug {run}", external_id=f"{run}-dup-slug", slug=slug)),
        ScalekitConflictException, grpc.StatusCode.ALREADY_EXISTS, 409, error_code="ALREADY_EXISTS")
    ok(what)

    what = "empty display_name on create is ScalekitBadRequestException (INVALID_ARGUMENT, http 400)"
    exc = expect_server_error(what, lambda: orgs.create_organization(CreateOrganization(
        display_name="", external_id=f"{run}-invalid")),
        ScalekitBadRequestException, grpc.StatusCode.INVALID_ARGUMENT, 400, error_code="INVALID_ARGUMENT")
    violations = [v for info in error_infos(exc) for v in info.validation_error_info.field_violations]
    expect_true(what, any(re.search(r"display_?name", v.field, re.I) for v in violations),
                f"no field violation names display_name: {[(v.field, v.description) for v in violations]!r}")
    ok(what)
    what = "the rejected create wrote nothing (its external_id is not found)"
    expect_server_error(what, lambda: orgs.get_organization_by_external_id(f"{run}-invalid"),
                        ScalekitNotFoundException, grpc.StatusCode.NOT_FOUND, 404)
    ok(what)

    what = "empty display_name on update is ScalekitBadRequestException INVALID_ARGUMENT, name unchanged"
    before = reread(what)
    expect_server_error(what, lambda: orgs.update_organization(oid, UpdateOrganization(display_name="")),
                        ScalekitBadRequestException, grpc.StatusCode.INVALID_ARGUMENT, 400,
                        error_code="INVALID_ARGUMENT")
    expect_equal(what, reread(what), before)
    ok(what)

    # --- a method OrgStore does not serve (the Python SDK has no search_organization).
    what = "get_organization_session_policy is ScalekitNotImplementedException (UNIMPLEMENTED, http 501)"
    expect_server_error(what, lambda: orgs.get_organization_session_policy(oid),
                        ScalekitNotImplementedException, grpc.StatusCode.UNIMPLEMENTED, 501)
    ok(what)

    # --- delete.
    what = "delete_organization(id) succeeds"
    call(what, lambda: orgs.delete_organization(oid))
    created.remove(oid)
    ok(what)
    what = "get_organization after delete is ScalekitNotFoundException (NOT_FOUND, http 404)"
    expect_server_error(what, lambda: orgs.get_organization(oid), ScalekitNotFoundException,
                        grpc.StatusCode.NOT_FOUND, 404, error_code="NOT_FOUND", message_includes="not found")
    ok(what)
    what = "get_organization_by_external_id after delete is ScalekitNotFoundException"
    expect_server_error(what, lambda: orgs.get_organization_by_external_id(ext), ScalekitNotFoundException,
                        grpc.StatusCode.NOT_FOUND, 404, error_code="NOT_FOUND")
    ok(what)
    what = "update_organization after delete is ScalekitNotFoundException"
    expect_server_error(what, lambda: orgs.update_organization(oid, UpdateOrganization(display_name="ghost")),
                        ScalekitNotFoundException, grpc.StatusCode.NOT_FOUND, 404, error_code="NOT_FOUND")
    ok(what)
    what = "delete_organization twice is ScalekitNotFoundException"
    expect_server_error(what, lambda: orgs.delete_organization(oid), ScalekitNotFoundException,
                        grpc.StatusCode.NOT_FOUND, 404, error_code="NOT_FOUND")
    ok(what)

    # --- the freed external id and slug are reusable at once.
    what = "re-create with the freed external_id and slug"
    again = plain(org_of(what, call(what, lambda: orgs.create_organization(CreateOrganization(
        display_name=f"Py Again {run}", external_id=ext, slug=slug)))))
    created.append(again["id"])
    expect_true(what, again["id"] != oid, f"the new organization reuses the deleted id {oid}")
    expect_equal(f"{what} (external_id)", again["external_id"], ext)
    got = plain(org_of(what, call(what, lambda: orgs.get_organization_by_external_id(ext))))
    expect_equal(f"{what} (found by external_id)", got["id"], again["id"])
    ok(what)

    if not keep_orgs:
        for org_id in created:
            call(f"cleanup: delete_organization({org_id})", lambda: orgs.delete_organization(org_id))
        ok(f"cleanup: deleted the {len(created)} organizations this run created")

    summary_and_exit(0)


if __name__ == "__main__":
    main()
