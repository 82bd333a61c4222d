#!/usr/bin/env node
// Drives Scalekit's official Node SDK (@scalekit-sdk/node, version pinned in
// package.json) against a running `orgstore serve` and checks that every
// organization call the SDK makes gets the answer hosted Scalekit would give.
//
// Environment:
//   SCALEKIT_ENVIRONMENT_URL   e.g. http://127.0.0.1:8080 (h2c) or https://localhost:8443
//   SCALEKIT_CLIENT_ID         client id the server accepts
//   SCALEKIT_CLIENT_SECRET     its secret
//   CHECK_TOTAL_SIZE=0         optional: skip comparing total_size with the number of
//                              organizations listed (set it when other clients write to
//                              the same server while this script runs)
//   KEEP_ORGS=1                optional: leave the organizations this run created in place
//
// Output: one line per check, `PASS <what>` or `FAIL <what>: <details>`, then one
// `SUMMARY` line. Exit code 0 when every check passed, 1 on the first mismatch,
// 2 when the environment is incomplete or the SDK cannot be loaded.

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual, inspect } from 'node:util';

// createRequire so the SDK resolves either from a node_modules next to this file
// or from NODE_PATH (CJS resolution honours NODE_PATH; ESM `import` does not).
const require = createRequire(import.meta.url);
let sdk;
try {
  sdk = require('@scalekit-sdk/node');
} catch (err) {
  console.error(`cannot load @scalekit-sdk/node: ${err.message}`);
  console.error('install it next to this script (npm ci) or point NODE_PATH at its node_modules');
  process.exit(2);
}
const {
  ScalekitClient,
  ScalekitServerException,
  ScalekitBadRequestException,
  ScalekitConflictException,
  ScalekitNotFoundException,
  ScalekitNotImplementedException,
} = sdk;

const SDK_VERSION = require('@scalekit-sdk/node/package.json').version;

// gRPC status numbers (the values of connect-es `Code`, identical to gRPC's).
const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, UNIMPLEMENTED: 12 };

// ---------------------------------------------------------------- reporting

let passed = 0;

function summaryAndExit(code, stoppedAt) {
  const tail = stoppedAt ? `, 1 failed (stopped at: ${stoppedAt})` : ', 0 failed';
  console.log(`SUMMARY node sdk ${SDK_VERSION}: ${passed} passed${tail}`);
  process.exit(code);
}

function pass(what) {
  passed += 1;
  console.log(`PASS ${what}`);
}

function fail(what, details) {
  console.log(`FAIL ${what}: ${details}`);
  summaryAndExit(1, what);
}

function show(value) {
  return inspect(value, { depth: 6, breakLength: Infinity, compact: true });
}

function describeError(err) {
  if (err instanceof ScalekitServerException) {
    return `${err.constructor.name} grpcStatus=${err.grpcStatus} httpStatus=${err.httpStatus} ` +
      `errorCode=${err.errorCode} message=${JSON.stringify(err.message)}`;
  }
  if (err && err.isAxiosError) {
    return `AxiosError status=${err.response?.status} data=${show(err.response?.data)} message=${err.message}`;
  }
  return `${err?.constructor?.name ?? typeof err}: ${err?.message ?? String(err)}`;
}

// Compares plain values; on a mismatch, fails with both sides.
function expectEqual(what, actual, expected) {
  if (!isDeepStrictEqual(actual, expected)) {
    fail(what, `expected ${show(expected)}, got ${show(actual)}`);
  }
}

function expectTrue(what, condition, details) {
  if (!condition) fail(what, details);
}

// Runs one SDK call; an unexpected exception is a failure of `what`.
async function call(what, fn) {
  try {
    return await fn();
  } catch (err) {
    fail(what, `unexpected error: ${describeError(err)}`);
  }
}

// Runs an SDK call that must be rejected with `cls` carrying the given statuses.
async function expectServerError(what, fn, { cls, grpc, http, errorCode, messageIncludes }) {
  let result;
  try {
    result = await fn();
  } catch (err) {
    if (!(err instanceof cls)) {
      fail(what, `expected ${cls.name}, got ${describeError(err)}`);
    }
    expectEqual(`${what} (grpcStatus)`, err.grpcStatus, grpc);
    expectEqual(`${what} (httpStatus)`, err.httpStatus, http);
    if (errorCode !== undefined) expectEqual(`${what} (errorCode)`, err.errorCode, errorCode);
    if (messageIncludes !== undefined) {
      expectTrue(what, String(err.message).toLowerCase().includes(messageIncludes),
        `message ${JSON.stringify(err.message)} does not mention "${messageIncludes}"`);
    }
    return err;
  }
  fail(what, `expected ${cls.name}, but the call succeeded: ${show(result)}`);
}

// ---------------------------------------------------------------- helpers

function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
}

function micros(ts) {
  if (!ts) return undefined;
  return BigInt(ts.seconds) * 1000000n + BigInt(Math.floor(ts.nanos / 1000));
}

// The SDK returns protobuf-es messages; reduce one to the fields the server owns.
function plain(org) {
  if (!org) return org;
  return {
    id: org.id,
    displayName: org.displayName,
    regionCode: org.regionCode,
    externalId: org.externalId,
    slug: org.slug,
    logoUrl: org.logoUrl,
    metadata: { ...org.metadata },
    features: features(org),
    createTime: micros(org.createTime),
    updateTime: micros(org.updateTime),
  };
}

function features(org) {
  return (org?.settings?.features ?? []).map((f) => ({ name: f.name, enabled: f.enabled }));
}

function orgOf(what, response) {
  const org = response?.organization;
  if (!org) fail(what, `response has no organization: ${show(response)}`);
  return org;
}

// ---------------------------------------------------------------- the run

const envUrl = requireEnv('SCALEKIT_ENVIRONMENT_URL');
const clientId = requireEnv('SCALEKIT_CLIENT_ID');
const clientSecret = requireEnv('SCALEKIT_CLIENT_SECRET');
const checkTotalSize = process.env.CHECK_TOTAL_SIZE !== '0';
const keepOrgs = process.env.KEEP_ORGS === '1';

// A run id keeps external ids and slugs unique, so the script runs against a
// store that already holds data (including data from earlier runs).
const run = `n${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const ext = `${run}-main`;
const extRenamed = `${run}-main-renamed`;
const slug = `${run}-main`;
const logoUrl = `https://cdn.example.com/${run}/logo.png`;

const sk = new ScalekitClient(envUrl, clientId, clientSecret);
const orgs = sk.organization;
const created = []; // ids to delete at the end

console.log(`run ${run} against ${envUrl} with @scalekit-sdk/node ${SDK_VERSION}`);

// --- authentication: a wrong secret is refused by the token endpoint.
// The SDK authenticates lazily: the first RPC goes out without a token, gets
// UNAUTHENTICATED, then the SDK asks /oauth/token; a refusal there surfaces as
// the token call's own axios error (the SDK does not wrap it).
{
  const what = 'wrong client secret is refused by POST /oauth/token with 401 invalid_client';
  const bad = new ScalekitClient(envUrl, clientId, `${clientSecret}-wrong`);
  let outcome;
  try {
    outcome = await bad.organization.getOrganization('org_00000000000000000000000000');
  } catch (err) {
    const status = err?.response?.status ?? (err instanceof ScalekitServerException ? err.httpStatus : undefined);
    expectTrue(what, status === 401, `expected a 401 from the token endpoint, got ${describeError(err)}`);
    if (err?.response) expectEqual(`${what} (error)`, err.response.data?.error, 'invalid_client');
    pass(what);
    outcome = 'refused';
  }
  if (outcome !== 'refused') fail(what, `the call succeeded: ${show(outcome)}`);
}

// --- create with external id, slug and logo url.
// createOrganization(name, {externalId, logoUrl, slug}) has no metadata option;
// metadata is set through updateOrganization below.
const createdRes = await call('createOrganization with externalId, slug, logoUrl',
  () => orgs.createOrganization(`Node Main ${run}`, { externalId: ext, slug, logoUrl }));
const main = plain(orgOf('createOrganization', createdRes));
created.push(main.id);
{
  const what = 'createOrganization returns the stored organization';
  expectTrue(what, /^org_[0-9A-Za-z]{1,28}$/.test(main.id), `id ${show(main.id)} is not org_<alphanumerics>`);
  expectEqual(`${what} (displayName)`, main.displayName, `Node Main ${run}`);
  expectEqual(`${what} (externalId)`, main.externalId, ext);
  expectEqual(`${what} (slug)`, main.slug, slug);
  expectEqual(`${what} (logoUrl)`, main.logoUrl, logoUrl);
  expectEqual(`${what} (metadata)`, main.metadata, {});
  expectEqual(`${what} (features)`, main.features, []);
  expectTrue(what, main.regionCode === 1 || main.regionCode === 2, `regionCode ${main.regionCode} is neither US (1) nor EU (2)`);
  expectTrue(what, main.createTime !== undefined && main.updateTime !== undefined, 'createTime or updateTime missing');
  expectTrue(what, main.updateTime >= main.createTime, `updateTime ${main.updateTime} < createTime ${main.createTime}`);
  pass(what);
}

// --- get by id and by external id.
{
  const what = 'getOrganization(id) returns what create returned';
  const got = plain(orgOf(what, await call(what, () => orgs.getOrganization(main.id))));
  expectEqual(what, got, main);
  pass(what);
}
{
  const what = 'getOrganizationByExternalId(externalId) returns the same organization';
  const got = plain(orgOf(what, await call(what, () => orgs.getOrganizationByExternalId(ext))));
  expectEqual(what, got, main);
  pass(what);
}

// --- update by id: display name and metadata, then re-read.
let current = main;
{
  const what = 'updateOrganization(id) sets displayName and metadata';
  const metadata = { plan: 'gold', seats: '12' };
  const res = await call(what, () => orgs.updateOrganization(main.id, { displayName: `Node Renamed ${run}`, metadata }));
  const upd = plain(orgOf(what, res));
  expectEqual(`${what} (displayName)`, upd.displayName, `Node Renamed ${run}`);
  expectEqual(`${what} (metadata)`, upd.metadata, metadata);
  expectEqual(`${what} (externalId kept)`, upd.externalId, ext);
  expectEqual(`${what} (slug kept)`, upd.slug, slug);
  expectEqual(`${what} (logoUrl kept)`, upd.logoUrl, logoUrl);
  expectEqual(`${what} (createTime kept)`, upd.createTime, main.createTime);
  expectTrue(what, upd.updateTime >= main.updateTime, `updateTime went back: ${upd.updateTime} < ${main.updateTime}`);
  pass(what);
  const again = 'updateOrganization(id) persisted (re-read with getOrganization)';
  const got = plain(orgOf(again, await call(again, () => orgs.getOrganization(main.id))));
  expectEqual(again, got, upd);
  pass(again);
  current = got;
}

// --- a name-only update: the SDK sends an empty metadata map, which must not clear it.
{
  const what = 'name-only updateOrganization keeps metadata';
  const res = await call(what, () => orgs.updateOrganization(main.id, { displayName: `Node Name Only ${run}` }));
  const upd = plain(orgOf(what, res));
  expectEqual(`${what} (displayName)`, upd.displayName, `Node Name Only ${run}`);
  expectEqual(`${what} (metadata)`, upd.metadata, current.metadata);
  const got = plain(orgOf(what, await call(what, () => orgs.getOrganization(main.id))));
  expectEqual(`${what} (re-read)`, got, upd);
  pass(what);
  current = got;
}

// --- update by external id: a non-empty metadata map replaces the whole map.
{
  const what = 'updateOrganizationByExternalId sets displayName and replaces metadata';
  const metadata = { tier: 'platinum' };
  const res = await call(what, () => orgs.updateOrganizationByExternalId(ext, { displayName: `Node By Ext ${run}`, metadata }));
  const upd = plain(orgOf(what, res));
  expectEqual(`${what} (id)`, upd.id, main.id);
  expectEqual(`${what} (displayName)`, upd.displayName, `Node By Ext ${run}`);
  expectEqual(`${what} (metadata)`, upd.metadata, metadata);
  pass(what);
  const again = 'updateOrganizationByExternalId persisted (re-read with getOrganization)';
  const got = plain(orgOf(again, await call(again, () => orgs.getOrganization(main.id))));
  expectEqual(again, got, upd);
  pass(again);
  current = got;
}

// --- change the external id, look it up under the new one, then change it back.
{
  const what = 'updateOrganization(id) changes externalId';
  const upd = plain(orgOf(what, await call(what, () => orgs.updateOrganization(main.id, { externalId: extRenamed }))));
  expectEqual(what, upd.externalId, extRenamed);
  const got = plain(orgOf(what, await call(what, () => orgs.getOrganizationByExternalId(extRenamed))));
  expectEqual(`${what} (found under the new externalId)`, got.id, main.id);
  pass(what);
  await expectServerError('the old externalId no longer finds it (ScalekitNotFoundException)',
    () => orgs.getOrganizationByExternalId(ext),
    { cls: ScalekitNotFoundException, grpc: GRPC.NOT_FOUND, http: 404 });
  pass('the old externalId no longer finds it (ScalekitNotFoundException)');
  const back = 'updateOrganizationByExternalId(new) changes externalId back';
  const res = plain(orgOf(back, await call(back, () => orgs.updateOrganizationByExternalId(extRenamed, { externalId: ext }))));
  expectEqual(back, res.externalId, ext);
  const reread = plain(orgOf(back, await call(back, () => orgs.getOrganizationByExternalId(ext))));
  expectEqual(`${back} (found under the original externalId)`, reread.id, main.id);
  pass(back);
  current = reread;
}

// --- an empty string clears logoUrl; other fields stay.
{
  const what = 'updateOrganization with logoUrl "" clears it';
  const upd = plain(orgOf(what, await call(what, () => orgs.updateOrganization(main.id, { logoUrl: '' }))));
  expectEqual(`${what} (logoUrl)`, upd.logoUrl, undefined);
  expectEqual(`${what} (slug kept)`, upd.slug, slug);
  expectEqual(`${what} (metadata kept)`, upd.metadata, current.metadata);
  const got = plain(orgOf(what, await call(what, () => orgs.getOrganization(main.id))));
  expectEqual(`${what} (re-read)`, got, upd);
  pass(what);
  current = got;
}

// --- settings: enable, disable (the toggle stays listed), append new names in order.
{
  const what = 'updateOrganizationSettings enables sso and dir_sync in request order';
  const res = await call(what, () => orgs.updateOrganizationSettings(main.id, {
    features: [{ name: 'sso', enabled: true }, { name: 'dir_sync', enabled: true }],
  }));
  expectEqual(what, features(orgOf(what, res)), [{ name: 'sso', enabled: true }, { name: 'dir_sync', enabled: true }]);
  pass(what);
}
{
  const what = 'updateOrganizationSettings disabling sso keeps it listed with enabled false, order kept';
  const expected = [{ name: 'sso', enabled: false }, { name: 'dir_sync', enabled: true }];
  const res = await call(what, () => orgs.updateOrganizationSettings(main.id, { features: [{ name: 'sso', enabled: false }] }));
  expectEqual(what, features(orgOf(what, res)), expected);
  const got = plain(orgOf(what, await call(what, () => orgs.getOrganization(main.id))));
  expectEqual(`${what} (re-read)`, got.features, expected);
  expectEqual(`${what} (metadata untouched)`, got.metadata, current.metadata);
  pass(what);
}
{
  const what = 'updateOrganizationSettings appends new names in the order sent, existing ones keep their place';
  const expected = [
    { name: 'sso', enabled: false },
    { name: 'dir_sync', enabled: false },
    { name: 'domain_verification', enabled: true },
  ];
  const res = await call(what, () => orgs.updateOrganizationSettings(main.id, {
    features: [{ name: 'domain_verification', enabled: true }, { name: 'dir_sync', enabled: false }],
  }));
  expectEqual(what, features(orgOf(what, res)), expected);
  pass(what);
}
{
  const what = 'updateOrganizationSettings with a name twice is ScalekitBadRequestException INVALID_ARGUMENT';
  await expectServerError(what, () => orgs.updateOrganizationSettings(main.id, {
    features: [{ name: 'sso', enabled: true }, { name: 'sso', enabled: false }],
  }), { cls: ScalekitBadRequestException, grpc: GRPC.INVALID_ARGUMENT, http: 400, errorCode: 'INVALID_ARGUMENT' });
  const got = plain(orgOf(what, await call(what, () => orgs.getOrganization(main.id))));
  expectEqual(`${what} (nothing written)`, got.features[0], { name: 'sso', enabled: false });
  pass(what);
}

// --- listing: 12 more organizations, then pages of 5 followed to the end.
const listIds = [];
for (let i = 0; i < 12; i += 1) {
  const n = String(i).padStart(2, '0');
  const what = `createOrganization list-${n}`;
  const org = orgOf(what, await call(what, () => orgs.createOrganization(`Node List ${n} ${run}`, { externalId: `${run}-list-${n}` })));
  listIds.push(org.id);
  created.push(org.id);
}
pass('created 12 more organizations for listing');
{
  const what = 'listOrganization({pageSize: 5}) followed to the end';
  const mine = new Set([main.id, ...listIds]);
  const seen = new Set();
  const mineInOrder = [];
  let token;
  let totalSize;
  let pages = 0;
  for (;;) {
    pages += 1;
    const res = await call(`${what} (page ${pages})`, () => orgs.listOrganization(token === undefined ? { pageSize: 5 } : { pageSize: 5, pageToken: token }));
    if (totalSize === undefined) totalSize = res.totalSize;
    const page = res.organizations ?? [];
    expectTrue(what, page.length <= 5, `page ${pages} holds ${page.length} organizations (page size 5)`);
    for (const org of page) {
      expectTrue(what, !seen.has(org.id), `organization ${org.id} listed twice (page ${pages})`);
      seen.add(org.id);
      if (mine.has(org.id)) mineInOrder.push(org.id);
    }
    const next = res.nextPageToken;
    expectTrue(what, typeof next === 'string', `nextPageToken is ${show(next)}`);
    if (next === '') break;
    expectEqual(`${what} (a page before the last is full)`, page.length, 5);
    expectTrue(what, next !== token, `page ${pages} returned the token it was asked with`);
    expectTrue(what, pages <= Math.ceil(totalSize / 5) + 2, `more pages (${pages}) than total_size ${totalSize} allows`);
    token = next;
  }
  const expectedOrder = [...listIds].reverse().concat([main.id]);
  expectEqual(`${what} (every organization of this run seen once, newest first)`, mineInOrder, expectedOrder);
  expectTrue(what, totalSize >= mine.size, `total_size ${totalSize} < ${mine.size} organizations created by this run`);
  if (checkTotalSize) expectEqual(`${what} (total_size equals organizations listed)`, seen.size, totalSize);
  pass(`${what}: ${pages} pages, ${seen.size} organizations, last nextPageToken ""`);
}
{
  const what = 'listOrganization() without options returns the default page of 10';
  const res = await call(what, () => orgs.listOrganization());
  expectEqual(`${what} (page length)`, res.organizations.length, 10);
  expectTrue(what, res.nextPageToken !== '', 'nextPageToken is "" although more than 10 organizations exist');
  pass(what);
}

// --- conflicts and validation.
await expectServerError('duplicate externalId is ScalekitConflictException (grpc 6, http 409, ALREADY_EXISTS)',
  () => orgs.createOrganization(`Node Dup ${run}`, { externalId: ext }),
  { cls: ScalekitConflictException, grpc: GRPC.ALREADY_EXISTS, http: 409, errorCode: 'ALREADY_EXISTS', messageIncludes: 'already exists' });
pass('duplicate externalId is ScalekitConflictException (grpc 6, http 409, ALREADY_EXISTS)');

await expectServerError('duplicate slug is ScalekitConflictException (grpc 6, http 409, ALREADY_EXISTS)',
  () => orgs.createOrganization(`Node Dup Slug ${run}`, { externalId: `${run}-dup-slug`, slug }),
  { cls: ScalekitConflictException, grpc: GRPC.ALREADY_EXISTS, http: 409, errorCode: 'ALREADY_EXISTS' });
pass('duplicate slug is ScalekitConflictException (grpc 6, http 409, ALREADY_EXISTS)');

{
  const what = 'empty displayName on create is ScalekitBadRequestException (grpc 3, http 400, INVALID_ARGUMENT)';
  const err = await expectServerError(what, () => orgs.createOrganization('', { externalId: `${run}-invalid` }),
    { cls: ScalekitBadRequestException, grpc: GRPC.INVALID_ARGUMENT, http: 400, errorCode: 'INVALID_ARGUMENT' });
  const violations = (err.unpackedDetails ?? []).flatMap((d) => d.validationErrorInfo?.fieldViolations ?? []);
  expectTrue(what, violations.some((v) => /display_?name/i.test(v.field)),
    `no field violation names display_name: ${show(violations.map((v) => ({ field: v.field, description: v.description })))}`);
  pass(what);
  await expectServerError('the rejected create wrote nothing (its externalId is not found)',
    () => orgs.getOrganizationByExternalId(`${run}-invalid`),
    { cls: ScalekitNotFoundException, grpc: GRPC.NOT_FOUND, http: 404 });
  pass('the rejected create wrote nothing (its externalId is not found)');
}
{
  const what = 'empty displayName on update is ScalekitBadRequestException INVALID_ARGUMENT, name unchanged';
  const before = plain(orgOf(what, await call(what, () => orgs.getOrganization(main.id))));
  await expectServerError(what, () => orgs.updateOrganization(main.id, { displayName: '' }),
    { cls: ScalekitBadRequestException, grpc: GRPC.INVALID_ARGUMENT, http: 400, errorCode: 'INVALID_ARGUMENT' });
  const after = plain(orgOf(what, await call(what, () => orgs.getOrganization(main.id))));
  expectEqual(what, after, before);
  pass(what);
}

// --- a method OrgStore does not serve.
await expectServerError('searchOrganization is ScalekitNotImplementedException (grpc 12, http 501)',
  () => orgs.searchOrganization(run),
  { cls: ScalekitNotImplementedException, grpc: GRPC.UNIMPLEMENTED, http: 501 });
pass('searchOrganization is ScalekitNotImplementedException (grpc 12, http 501)');

// --- delete, then every lookup of it is not found.
{
  const what = 'deleteOrganization(id) succeeds';
  await call(what, () => orgs.deleteOrganization(main.id));
  created.splice(created.indexOf(main.id), 1);
  pass(what);
}
await expectServerError('getOrganization after delete is ScalekitNotFoundException (grpc 5, http 404, NOT_FOUND)',
  () => orgs.getOrganization(main.id),
  { cls: ScalekitNotFoundException, grpc: GRPC.NOT_FOUND, http: 404, errorCode: 'NOT_FOUND', messageIncludes: 'not found' });
pass('getOrganization after delete is ScalekitNotFoundException (grpc 5, http 404, NOT_FOUND)');
await expectServerError('getOrganizationByExternalId after delete is ScalekitNotFoundException',
  () => orgs.getOrganizationByExternalId(ext),
  { cls: ScalekitNotFoundException, grpc: GRPC.NOT_FOUND, http: 404, errorCode: 'NOT_FOUND' });
pass('getOrganizationByExternalId after delete is ScalekitNotFoundException');
await expectServerError('updateOrganization after delete is ScalekitNotFoundException',
  () => orgs.updateOrganization(main.id, { displayName: 'ghost' }),
  { cls: ScalekitNotFoundException, grpc: GRPC.NOT_FOUND, http: 404, errorCode: 'NOT_FOUND' });
pass('updateOrganization after delete is ScalekitNotFoundException');
await expectServerError('deleteOrganization twice is ScalekitNotFoundException',
  () => orgs.deleteOrganization(main.id),
  { cls: ScalekitNotFoundException, grpc: GRPC.NOT_FOUND, http: 404, errorCode: 'NOT_FOUND' });
pass('deleteOrganization twice is ScalekitNotFoundException');

// --- the freed external id and slug are reusable at once.
{
  const what = 're-create with the freed externalId and slug';
  const org = plain(orgOf(what, await call(what, () => orgs.createOrganization(`Node Again ${run}`, { externalId: ext, slug }))));
  created.push(org.id);
  expectTrue(what, org.id !== main.id, `the new organization reuses the deleted id ${main.id}`);
  expectEqual(`${what} (externalId)`, org.externalId, ext);
  const got = plain(orgOf(what, await call(what, () => orgs.getOrganizationByExternalId(ext))));
  expectEqual(`${what} (found by externalId)`, got.id, org.id);
  pass(what);
}

// --- clean up what this run created.
if (!keepOrgs) {
  for (const id of created) {
    await call(`cleanup: deleteOrganization(${id})`, () => orgs.deleteOrganization(id));
  }
  pass(`cleanup: deleted the ${created.length} organizations this run created`);
}

summaryAndExit(0);
