import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../../src/audit/audit.ts';
import type { Database } from '../../src/db/connect.ts';
import { exportDirectory } from '../../src/directory/export.ts';
import { importDirectory } from '../../src/directory/import.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER } from '../support/fixtures.ts';
import { policyId, requestId, validWiki } from '../support/flows.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];
let ada: Agent;
let max: Agent;

const catalogId = async (name: string) => (await db('catalogs').where({ name }).first('id')).id as string;

/** Posts a form the way the page's own form would, with its CSRF token. */
async function post(agent: Agent, pagePath: string, action: string, fields: Record<string, string | string[]>) {
  const page = await agent.get(pagePath);
  expect(page.status, `${pagePath} should open`).toBe(200);
  return agent.post(action).type('form').send({ _csrf: csrfFrom(page.text), ...versionOf(page.text), ...fields });
}

/** The edit form's fingerprint of what it shows, sent back as the browser would. */
const versionOf = (html: string) => {
  const m = /name="version" value="([^"]*)"/.exec(html);
  return m ? { version: m[1] } : {};
};

/** A policy form filled in as a person would, for the package's editor. */
function policyFields(overrides: Record<string, string | string[]> = {}) {
  return {
    action: 'save',
    name: 'Contractors: manager then security',
    description: 'For contractors.',
    scope: 'specific',
    requestorUsers: USER.other,
    requestorGroups: ['approvers'],
    acceptRequests: 'yes',
    requireJustification: 'yes',
    expiration: 'afterDays',
    expirationDays: '45',
    allowCustomPeriod: 'yes',
    approvalRequired: 'yes',
    stageCount: '2',
    'stage-0-approvers': ['manager'],
    'stage-0-fallbackUsers': USER.approver,
    'stage-0-timeoutDays': '7',
    'stage-0-requireApproverJustification': 'yes',
    'stage-1-approversGroups': ['approvers'],
    'stage-1-timeoutDays': '10',
    'stage-1-escalate': 'yes',
    'stage-1-escalationAfterDays': '5',
    'stage-1-escalationUsers': USER.admin,
    questionCount: '2',
    'question-0-text': 'Which contract?',
    'question-0-key': 'contract',
    'question-0-type': 'shortText',
    'question-0-required': 'yes',
    'question-0-pattern': '^C-[0-9]+$',
    'question-0-patternHint': 'A contract number such as C-12',
    'question-1-text': 'Which team?',
    'question-1-key': 'team',
    'question-1-type': 'multipleChoice',
    'question-1-choices': 'Blue\nGreen',
    'question-1-required': 'yes',
    attributeCount: '1',
    'attribute-0-attribute': 'costCenter',
    'attribute-0-label': 'Cost center',
    'attribute-0-type': 'shortText',
    'attribute-0-required': 'yes',
    ...overrides,
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  ada = await signIn(t.app, USER.admin);
  max = await signIn(t.app, USER.manager);
});
afterAll(async () => {
  await database.close();
});

describe('catalogs', () => {
  it('lets an administrator create a catalog, and refuses a catalog owner', async () => {
    const res = await post(ada, '/admin/catalogs/new', '/admin/catalogs', { name: 'Research', description: 'Lab tools.', enabled: 'yes', owners: USER.lead });
    expect(res.status).toBe(303);
    const id = await catalogId('Research');
    expect(res.headers.location).toBe(`/admin/catalogs/${id}`);
    expect(await db('catalog_owners as o').join('users as u', 'u.id', 'o.user_id').where('o.catalog_id', id).pluck('u.email')).toEqual([USER.lead]);
    expect((await max.get('/admin/catalogs/new')).status).toBe(404);
    const token = csrfFrom((await max.get('/admin')).text);
    expect((await max.post('/admin/catalogs').type('form').send({ _csrf: token, name: 'Sneaky' })).status).toBe(404);
    expect(await db('catalogs').where({ name: 'Sneaky' }).first()).toBeUndefined();
    const audit = await db('audit_log').where({ action: 'catalog.created' }).first('details', 'target_id');
    expect(audit.details.after.name).toBe('Research');
    expect(audit.target_id).toBe(id);
  });

  it('re-renders with the import’s message for an unknown owner, and renames a catalog', async () => {
    const id = await catalogId('Research');
    const bad = await post(ada, `/admin/catalogs/${id}`, `/admin/catalogs/${id}`, { name: 'Research', enabled: 'yes', owners: 'nobody@fabrikam.test' });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('<a href="#owners">Owners: unknown user nobody@fabrikam.test</a>');
    expect(bad.text).toContain('nobody@fabrikam.test</textarea>');
    const empty = await post(ada, `/admin/catalogs/${id}`, `/admin/catalogs/${id}`, { name: '', enabled: 'yes' });
    expect(empty.status).toBe(422);
    expect(empty.text).toContain('Enter a name for the catalog');
    const renamed = await post(ada, `/admin/catalogs/${id}`, `/admin/catalogs/${id}`, { name: 'Research and Development', enabled: '', owners: USER.lead });
    expect(renamed.status).toBe(303);
    expect(await db('catalogs').where({ id }).first('name', 'enabled')).toEqual({ name: 'Research and Development', enabled: false });
  });

  it('refuses catalog and resource forms opened before someone else saved them (409)', async () => {
    const id = await catalogId('Research and Development');
    const page = `/admin/catalogs/${id}`;
    const adaForm = (await ada.get(page)).text;
    expect((await post(ada, page, page, { name: 'Research and Development', description: 'Labs.', enabled: '', owners: USER.lead })).status).toBe(303);
    const stale = await ada.post(page).type('form').send({ _csrf: csrfFrom(adaForm), ...versionOf(adaForm), name: 'R&D', enabled: 'yes', owners: USER.lead });
    expect(stale.status).toBe(409);
    expect(stale.text).toContain('Someone else saved the catalog Research and Development after you opened this page');
    expect(await db('catalogs').where({ id }).first('name', 'description')).toEqual({ name: 'Research and Development', description: 'Labs.' });

    const general = await catalogId('General');
    const resource = await db('resources').where({ catalog_id: general, key: 'repo' }).first('id', 'key', 'type', 'name');
    const roles: string[] = await db('resource_roles').where({ resource_id: resource.id }).orderBy('position').pluck('name');
    const resourcePage = `/admin/catalogs/${general}/resources/${resource.id}`;
    const resourceForm = (await ada.get(resourcePage)).text;
    const fields = { key: resource.key, type: resource.type, name: resource.name };
    expect((await post(max, resourcePage, resourcePage, { ...fields, roles: [...roles, 'Auditor'].join('\n') })).status).toBe(303);
    const staleResource = await ada.post(resourcePage).type('form').send({ _csrf: csrfFrom(resourceForm), ...versionOf(resourceForm), ...fields, name: 'Repo (Ada)', roles: roles.join('\n') });
    expect(staleResource.status).toBe(409);
    expect(staleResource.text).toContain('Someone else saved the resource repo after you opened this page');
    expect(await db('resource_roles').where({ resource_id: resource.id }).orderBy('position').pluck('name')).toEqual([...roles, 'Auditor']);
    expect((await post(max, resourcePage, resourcePage, { ...fields, roles: roles.join('\n') })).status).toBe(303);
  });

  it('limits catalog owners to their own catalogs', async () => {
    expect((await max.get(`/admin/catalogs/${await catalogId('General')}`)).status).toBe(200);
    const archive = await catalogId('Archive');
    expect((await max.get(`/admin/catalogs/${archive}`)).status).toBe(404);
    expect((await max.get(`/admin/access-packages/${PKG.archived}`)).status).toBe(404);
    const token = csrfFrom((await max.get('/admin')).text);
    const res = await max.post(`/admin/access-packages/${PKG.archived}`).type('form').send({ _csrf: token, name: 'Taken over' });
    expect(res.status).toBe(404);
    expect((await db('access_packages').where({ id: PKG.archived }).first('name')).name).toBe('Old system');
    const list = await max.get('/admin');
    expect(list.text).toContain('>General</a>');
    expect(list.text).not.toContain('>Archive</a>');
    const rita = await signIn(t.app, USER.requestor);
    expect((await rita.get('/admin')).status).toBe(404);
  });
});

describe('resources and access packages', () => {
  it('adds a resource, refuses a duplicate key with the import’s message, refuses to rename to a key in use, and renames a key everywhere', async () => {
    const general = await catalogId('General');
    const add = await post(max, `/admin/catalogs/${general}/resources/new`, `/admin/catalogs/${general}/resources/new`, { key: 'docs', type: 'site', name: 'Docs', roles: 'Reader\nWriter' });
    expect(add.status).toBe(303);
    // Audited under the new resource's id, so filtering the audit log by it finds its creation.
    const docs = await db('resources').where({ key: 'docs' }).first('id');
    expect(await db('audit_log').where({ action: 'resource.created' }).pluck('target_id')).toEqual([docs.id]);
    const dup = await post(max, `/admin/catalogs/${general}/resources/new`, `/admin/catalogs/${general}/resources/new`, { key: 'wiki', type: 'site', name: 'Another wiki', roles: 'Reader' });
    expect(dup.status).toBe(422);
    expect(dup.text).toMatch(/Key: duplicate resource key wiki/);
    const wiki = await db('resources').where({ key: 'wiki' }).first('id');
    const clash = await post(max, `/admin/catalogs/${general}/resources/${wiki.id}`, `/admin/catalogs/${general}/resources/${wiki.id}`, { key: 'docs', type: 'site', name: 'Team Wiki', roles: 'Reader\nEditor' });
    expect(clash.status).toBe(422);
    expect(clash.text).toContain('Key: another resource has the key docs (in the catalog General)');
    expect(clash.text).toMatch(/<a href="#key">/);
    expect(clash.text).toMatch(/id="key"[^>]*value="docs"|value="docs"[^>]*id="key"/);
    expect((await db('resources').where({ id: wiki.id }).first('key')).key).toBe('wiki');
    const renamed = await post(max, `/admin/catalogs/${general}/resources/${wiki.id}`, `/admin/catalogs/${general}/resources/${wiki.id}`, { key: 'team-wiki', type: 'site', name: 'Team Wiki', url: 'https://wiki.fabrikam.test', roles: 'Reader\nEditor' });
    expect(renamed.status).toBe(303);
    expect((await db('resources').where({ id: wiki.id }).first('key')).key).toBe('team-wiki');
    // The packages granting its roles still do.
    const grants = await db('access_package_resource_roles as a').join('resource_roles as rr', 'rr.id', 'a.resource_role_id').where({ 'a.access_package_id': PKG.wiki }).pluck('rr.name');
    expect(grants).toEqual(['Editor']);
  });

  it('creates a package with resource roles and an incompatible package', async () => {
    const general = await catalogId('General');
    const [{ last }] = await db('audit_log').max('id as last');
    const res = await post(max, `/admin/catalogs/${general}/access-packages/new`, `/admin/catalogs/${general}/access-packages`, {
      name: 'Docs writers',
      description: 'Write the docs.',
      resourceRoles: ['docs::Writer'],
      incompatibleWith: [PKG.billingApprove],
    });
    expect(res.status).toBe(303);
    const pkg = await db('access_packages').where({ name: 'Docs writers' }).first('id');
    expect(res.headers.location).toBe(`/admin/access-packages/${pkg.id}`);
    expect(await db('access_package_incompatibles').where({ access_package_id: pkg.id }).pluck('incompatible_id')).toEqual([PKG.billingApprove]);
    const page = await max.get(res.headers.location);
    expect(page.text).toContain('Access package Docs writers created.');
    expect(page.text).toContain(`/@fabrikam.test/access-packages/${pkg.id}`);
    // The audit log says what was done: one entry for the package, none claiming a directory import.
    const entries = await db('audit_log').where('id', '>', last ?? 0).whereIn('action', ['accessPackage.created', 'directory.imported']).pluck('action');
    expect(entries).toEqual(['accessPackage.created']);
  });

  it('refuses a catalog owner a role of another catalog’s resource, and keeps roles a package already has', async () => {
    const general = await catalogId('General');
    const roleIds = () => db('access_package_resource_roles').where({ access_package_id: PKG.wiki }).orderBy('resource_role_id').pluck('resource_role_id');
    const before = await roleIds();
    const held = (await db('access_package_resource_roles as a').join('resource_roles as rr', 'rr.id', 'a.resource_role_id').join('resources as r', 'r.id', 'rr.resource_id')
      .where('a.access_package_id', PKG.wiki).select('r.key', 'rr.name')).map((g) => `${g.key}::${g.name}`);
    const page = `/admin/access-packages/${PKG.wiki}`;
    const refused = await post(max, page, page, { name: 'Wiki editors', resourceRoles: [...held, 'old::User'] });
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('Choose roles of this catalog’s resources: old – User is not among them');
    expect(await roleIds()).toEqual(before);
    const created = await post(max, `/admin/catalogs/${general}/access-packages/new`, `/admin/catalogs/${general}/access-packages`, { name: 'Sneaky', resourceRoles: ['old::User'] });
    expect(created.status).toBe(422);
    expect(await db('access_packages').where({ name: 'Sneaky' }).first()).toBeUndefined();
    // A role of another catalog that the package already has (the file format allows it) stays when the package is edited.
    const old = await db('resource_roles as rr').join('resources as r', 'r.id', 'rr.resource_id').where({ 'r.key': 'old', 'rr.name': 'User' }).first('rr.id');
    await db('access_package_resource_roles').insert({ access_package_id: PKG.wiki, resource_role_id: old.id });
    const kept = await post(max, page, page, { name: 'Wiki editors', resourceRoles: [...held, 'old::User'] });
    expect(kept.status).toBe(303);
    expect(await roleIds()).toEqual([...before, old.id].sort());
    await db('access_package_resource_roles').where({ access_package_id: PKG.wiki, resource_role_id: old.id }).delete();
  });

  it('refuses a package form opened before someone else saved the package (409), showing the package as it is now', async () => {
    const page = `/admin/access-packages/${PKG.repo}`;
    const adaForm = (await ada.get(page)).text;
    const checked = [...adaForm.matchAll(/name="resourceRoles" type="checkbox" value="([^"]+)" checked/g)].map((m) => m[1]);
    const added = [...adaForm.matchAll(/name="resourceRoles" type="checkbox" value="([^"]+)">/g)].map((m) => m[1])[0];
    // Max adds a role while Ada's form is open.
    const maxSave = await post(max, page, page, { name: 'Repository access', description: 'Read and write the source repository.', resourceRoles: [...checked, added] });
    expect(maxSave.status).toBe(303);
    const stale = await ada.post(page).type('form').send({ _csrf: csrfFrom(adaForm), ...versionOf(adaForm), name: 'Repository (renamed)', description: 'Old text.', resourceRoles: checked });
    expect(stale.status).toBe(409);
    expect(stale.text).toContain('Someone else saved the access package Repository access after you opened this page, so your changes were not saved.');
    expect(stale.text).toMatch(/<a href="#main">Someone else saved/);
    expect(stale.text).toContain(`name="resourceRoles" type="checkbox" value="${added}" checked`);
    const row = await db('access_packages').where({ id: PKG.repo }).first('name');
    expect(row.name).toBe('Repository access');
    const roles = await db('access_package_resource_roles as a').join('resource_roles as rr', 'rr.id', 'a.resource_role_id').join('resources as r', 'r.id', 'rr.resource_id').where('a.access_package_id', PKG.repo).orderBy(['r.key', 'rr.name']).select(db.raw(`r.key || '::' || rr.name as k`));
    expect(roles.map((r: { k: string }) => r.k)).toEqual([...checked, added].sort());
    // The form shown with the 409 carries the new version: saved from there, it goes through.
    const again = await ada.post(page).type('form').send({ _csrf: csrfFrom(stale.text), ...versionOf(stale.text), name: 'Repository access', description: 'Read and write the source repository.', resourceRoles: checked });
    expect(again.status).toBe(303);
  });

  it('keeps the incompatible packages a form shows however many sort before them, and asks for group keys in a directory with many groups', async () => {
    const { directory_id } = await db('catalogs').where({ name: 'General' }).first('directory_id');
    const [{ id: crowded }] = await db('catalogs').insert({ directory_id, name: 'A crowded catalog' }).returning('id');
    await db.raw(`insert into access_packages (directory_id, catalog_id, name) select :directory_id, :crowded, 'Package ' || lpad(n::text, 3, '0') from generate_series(1, 501) as n`, { directory_id, crowded });
    await db.raw(`insert into groups (directory_id, key, name) select :directory_id, 'crowd-' || n, 'A group ' || lpad(n::text, 3, '0') from generate_series(1, 520) as n`, { directory_id });
    try {
      const page = `/admin/access-packages/${PKG.billingSubmit}`;
      const form = (await ada.get(page)).text;
      const ticked = (name: string) => [...form.matchAll(new RegExp(`name="${name}" type="checkbox" value="([^"]+)" checked`, 'g'))].map((m) => m[1]);
      expect(ticked('incompatibleWith')).toEqual([PKG.billingApprove]);
      const saved = await post(ada, page, page, { name: 'Billing: submit', description: 'Submit invoices.', resourceRoles: ticked('resourceRoles'), incompatibleWith: ticked('incompatibleWith') });
      expect(saved.status).toBe(303);
      expect(await db('access_package_incompatibles').where({ access_package_id: PKG.billingSubmit }).pluck('incompatible_id')).toEqual([PKG.billingApprove]);
      // 500 checkboxes would be a long page and still miss the rest: the chosen one is listed, the others are found by name.
      expect(form).not.toContain('>Package 001<');
      expect(form).toContain('<label class="field__label" for="incompatibleFind">Find access packages by name</label>');
      const find = (text: string) => post(ada, page, page, { name: 'Billing: submit (typed)', description: 'Submit invoices.', resourceRoles: ticked('resourceRoles'), incompatibleWith: ticked('incompatibleWith'), incompatibleFind: text, action: 'findIncompatible' });
      const found = await find('package 00');
      expect(found.status).toBe(200);
      const labels = (html: string) => [...html.matchAll(/<label class="checkboxes__label" for="incompatibleWith[^"]*">([^<]+)<\/label>/g)].map((m) => m[1]);
      expect(labels(found.text)).toEqual(['Package 001', 'Package 002', 'Package 003', 'Package 004', 'Package 005', 'Package 006', 'Package 007', 'Package 008', 'Package 009', 'Billing: approve']);
      expect(found.text).toContain('9 access packages whose name contains “package 00” are listed below.');
      // What was typed stays in the form, and nothing is saved until Save.
      expect(found.text).toContain('value="Billing: submit (typed)"');
      expect(found.text).toMatch(/name="incompatibleWith" type="checkbox" value="[^"]+" checked[^>]*>\s*<label class="checkboxes__label" for="[^"]+">Billing: approve</);
      expect((await db('access_packages').where({ id: PKG.billingSubmit }).first('name')).name).toBe('Billing: submit');
      expect((await find('package')).text).toContain('The first 50 access packages whose name contains “package” are listed below: type more of the name to find others.');
      expect((await find('no such package')).text).toContain('No access package’s name contains “no such package”.');
      // Enter in a field sends the form's first button, "default": with new words in the find field
      // it finds (the way to search without JavaScript); with the words already looked for, it saves.
      const enter = (fields: Record<string, string>) => post(ada, page, page, { name: 'Billing: submit', description: 'Submit invoices.', resourceRoles: ticked('resourceRoles'), incompatibleWith: ticked('incompatibleWith'), action: 'default', ...fields });
      const entered = await enter({ incompatibleFind: 'package 01', incompatibleFoundFor: '' });
      expect(entered.status).toBe(200);
      expect(labels(entered.text)).toContain('Package 010');
      expect(entered.text).toContain('name="incompatibleFoundFor" value="package 01"');
      expect((await enter({ incompatibleFind: 'package 01', incompatibleFoundFor: 'package 01' })).status).toBe(303);
      expect((await enter({ incompatibleFind: '', incompatibleFoundFor: '' })).status).toBe(303);
      // Ticked from the results and saved: both are incompatible now.
      const package7 = (await db('access_packages').where({ catalog_id: crowded, name: 'Package 007' }).first('id')).id;
      const both = await post(ada, page, page, { name: 'Billing: submit', description: 'Submit invoices.', resourceRoles: ticked('resourceRoles'), incompatibleWith: [PKG.billingApprove, package7], action: 'save' });
      expect(both.status).toBe(303);
      expect((await db('access_package_incompatibles').where({ access_package_id: PKG.billingSubmit }).pluck('incompatible_id')).sort()).toEqual([PKG.billingApprove, package7].sort());
      expect(labels((await ada.get(page)).text)).toEqual(['Package 007', 'Billing: approve']);
      await db('access_package_incompatibles').where({ access_package_id: PKG.billingSubmit, incompatible_id: package7 }).delete();
      await db('access_package_incompatibles').where({ access_package_id: package7 }).delete();
      // With 520 more groups, the policy editor asks for group keys, one per line, filled in with the policy's.
      const editor = `/admin/access-packages/${PKG.twoStage}/policies/${await policyId(db, PKG.twoStage, 'Two stages')}`;
      const policy = (await ada.get(editor)).text;
      expect(policy).not.toContain('type="checkbox" value="crowd-1"');
      const box = /<textarea[^>]*name="stage-1-approversGroups"[^>]*>([^<]*)<\/textarea>/.exec(policy) ?? /<textarea[^>]*name="stage-0-approversGroups"[^>]*>([^<]*)<\/textarea>/.exec(policy);
      expect(box?.[1].trim()).toBe('approvers');
      expect(policy).toContain('Group keys, one per line: find a group’s key under Users and groups.');
      // A key typed wrong is refused at that box; typed right, it is saved.
      const newPolicy = `/admin/access-packages/${PKG.twoStage}/policies/new`;
      const fields = policyFields({ name: 'Typed groups', stageCount: '1', 'stage-0-approvers': [], 'stage-0-approversGroups': 'aproverz', 'stage-0-fallbackUsers': '', questionCount: '0', attributeCount: '0', scope: 'allMembers' });
      const wrong = await post(ada, newPolicy, newPolicy, fields);
      expect(wrong.status).toBe(422);
      expect(wrong.text).toContain('<a href="#stage-0-approversGroups">Stage 1 approver groups: unknown group aproverz</a>');
      expect(wrong.text).toMatch(/<textarea[^>]*name="stage-0-approversGroups"[^>]*>aproverz<\/textarea>/);
      expect((await post(ada, newPolicy, newPolicy, { ...fields, 'stage-0-approversGroups': 'crowd-7\napprovers' })).status).toBe(303);
      const typed = await policyId(db, PKG.twoStage, 'Typed groups');
      const groups = await db('policy_stage_approvers as a').join('policy_stages as s', 's.id', 'a.stage_id').join('groups as g', 'g.id', 'a.group_id').where('s.policy_id', typed).orderBy('g.key').pluck('g.key');
      expect(groups).toEqual(['approvers', 'crowd-7']);
      const remove = `/admin/access-packages/${PKG.twoStage}/policies/${typed}/remove`;
      expect((await post(ada, remove, remove, {})).status).toBe(303);
    } finally {
      await db('access_packages').where({ catalog_id: crowded }).delete();
      await db('catalogs').where({ id: crowded }).delete();
      await db('groups').where('key', 'like', 'crowd-%').delete();
    }
  });

  it('opens a catalog however many catalogs sort before it', async () => {
    const general = await catalogId('General');
    const { directory_id } = await db('catalogs').where({ id: general }).first('directory_id');
    await db.raw(`insert into catalogs (directory_id, name) select :directory_id, 'A catalog ' || lpad(n::text, 4, '0') from generate_series(1, 1001) as n`, { directory_id });
    try {
      const page = await ada.get(`/admin/catalogs/${general}`);
      expect(page.status).toBe(200);
      expect(page.text).toContain('<h1');
      expect((await ada.get(`/admin/catalogs/${general}/access-packages/new`)).status).toBe(200);
      // The list shows them a page at a time, and finds one by name.
      const names = (html: string) => [...html.matchAll(/<th scope="row"><a href="\/admin\/catalogs\/[^"]+">([^<]+)<\/a>/g)].map((m) => m[1]);
      const first = await ada.get('/admin');
      expect(names(first.text)).toHaveLength(50);
      expect(names(first.text)[0]).toBe('A catalog 0001');
      const next = /href="([^"]+)"[^>]*rel="next"/.exec(first.text)![1].replace(/&amp;/g, '&');
      expect(names((await ada.get(next)).text)[0]).toBe('A catalog 0051');
      const found = await ada.get('/admin?q=gener');
      expect(names(found.text)).toEqual(['General']);
      // Pages follow the database's idea of lower case: a page ending with “İx” still leads to “Iy”.
      await db.raw(`update catalogs set name = 'A zq ' || right(name, 4) where name like 'A catalog 00%' and name < 'A catalog 0050'`);
      await db('catalogs').where({ name: 'A catalog 0050' }).update({ name: 'İx zq' });
      await db('catalogs').where({ name: 'A catalog 0051' }).update({ name: 'Iy zq' });
      const byName = await ada.get('/admin?q=zq');
      expect(names(byName.text)).toHaveLength(50);
      expect(names(byName.text).at(-1)).toBe('İx zq');
      const second = /href="([^"]+)"[^>]*rel="next"/.exec(byName.text)![1].replace(/&amp;/g, '&');
      expect(names((await ada.get(second)).text)).toEqual(['Iy zq']);
      const swapped = await ada.get('/admin?q=gener').set('HX-Request', 'true').set('HX-Target', 'catalog-results');
      expect(swapped.text).not.toContain('<h1');
      expect(swapped.text).toContain('1 catalog shown for “gener”.');
    } finally {
      await db('catalogs').where('name', 'like', 'A catalog %').orWhere('name', 'like', '% zq%').delete();
    }
  });

  it('lists a role of another catalog’s resource on the package form, so saving the form as it is keeps it', async () => {
    const old = await db('resource_roles as rr').join('resources as r', 'r.id', 'rr.resource_id').where({ 'r.key': 'old', 'rr.name': 'User' }).first('rr.id');
    await db('access_package_resource_roles').insert({ access_package_id: PKG.wiki, resource_role_id: old.id });
    const roleIds = () => db('access_package_resource_roles').where({ access_package_id: PKG.wiki }).orderBy('resource_role_id').pluck('resource_role_id');
    const before = await roleIds();
    const page = `/admin/access-packages/${PKG.wiki}`;
    const form = (await ada.get(page)).text;
    const checked = [...form.matchAll(/name="resourceRoles" type="checkbox" value="([^"]+)" checked/g)].map((m) => m[1]);
    expect(checked).toContain('old::User');
    expect(form).toMatch(/<label class="checkboxes__label" for="[^"]+">Old System \(catalog Archive\): User<\/label>/);
    // Only the description changes, as an administrator would edit it.
    const saved = await post(ada, page, page, { name: 'Wiki editors', description: 'Edit the team wiki.', resourceRoles: checked });
    expect(saved.status).toBe(303);
    expect(await roleIds()).toEqual(before);
    // Unticked, it goes.
    const removed = await post(ada, page, page, { name: 'Wiki editors', description: 'Edit the team wiki.', resourceRoles: checked.filter((v) => v !== 'old::User') });
    expect(removed.status).toBe(303);
    expect(await roleIds()).toEqual(before.filter((r) => r !== old.id));
  });

  it('refuses to remove a package that has been requested, with the reason', async () => {
    const rita = await signIn(t.app, USER.requestor);
    await requestId(rita, PKG.repo, await policyId(db, PKG.repo, 'Members'), {});
    const res = await post(max, `/admin/access-packages/${PKG.repo}/remove`, `/admin/access-packages/${PKG.repo}/remove`, {});
    expect(res.status).toBe(422);
    expect(res.text).toContain('Repository access has 1 active assignment. Remove it first: an access package with live access cannot be removed.');
    const rita2 = await db('users').where({ email: USER.requestor }).first('id');
    await db('assignments').where({ user_id: rita2.id, access_package_id: PKG.repo }).update({ state: 'expired', ended_at: new Date(), end_reason: 'removedByAdmin' });
    const history = await post(max, `/admin/access-packages/${PKG.repo}/remove`, `/admin/access-packages/${PKG.repo}/remove`, {});
    expect(history.status).toBe(422);
    expect(history.text).toMatch(/cannot be removed/);
    expect(await db('access_packages').where({ id: PKG.repo }).first('id')).toBeTruthy();
  });
});

describe('the policy editor', () => {
  it('grows the form with Add a question and Add a stage, without saving anything', async () => {
    const page = `/admin/access-packages/${PKG.repo}/policies/new`;
    const before = await db('policies').count('* as n');
    const added = await post(max, page, page, { ...policyFields(), action: 'addQuestion' });
    expect(added.status).toBe(200);
    expect(added.text).toContain('Question 3</h3>');
    const stage = await post(max, page, page, { ...policyFields(), action: 'addStage' });
    expect(stage.text).toContain('Stage 3</h3>');
    expect(stage.text).not.toContain('value="addStage"');
    const moved = await post(max, page, page, { ...policyFields(), action: 'moveQuestionDown-0' });
    expect(moved.text.indexOf('Which team?')).toBeLessThan(moved.text.indexOf('Which contract?'));
    // Focus follows the moved question to its new place; after a removal, the part now in its place.
    const focused = (html: string) => [...html.matchAll(/id="([a-z]+-\d+)-heading" tabindex="-1" data-autofocus/g)].map((m) => m[1]);
    expect(focused(moved.text)).toEqual(['question-1']);
    const removed = await post(max, page, page, { ...policyFields(), action: 'removeStage-0' });
    expect(removed.text).not.toContain('Stage 2</h3>');
    expect(focused(removed.text)).toEqual(['stage-0']);
    expect(focused((await post(max, page, page, { ...policyFields(), action: 'removeQuestion-1' })).text)).toEqual(['question-0']);
    const fragment = await max.post(page).set('HX-Request', 'true').set('HX-Target', 'policy-form').type('form').send({ _csrf: csrfFrom((await max.get(page)).text), ...policyFields(), action: 'addAttribute' });
    expect(fragment.text).not.toContain('<html');
    expect(fragment.text).toContain('Requestor attribute 2</h3>');
    expect(await db('policies').count('* as n')).toEqual(before);
  });

  it('saves every setting of a two-stage policy with questions', async () => {
    const page = `/admin/access-packages/${PKG.repo}/policies/new`;
    const res = await post(max, page, page, policyFields());
    expect(res.status).toBe(303);
    const policy = await db('policies').where({ access_package_id: PKG.repo, name: 'Contractors: manager then security' }).first('*');
    expect(policy).toMatchObject({ requestor_scope: 'specific', require_justification: true, expiration_kind: 'afterDays', expiration_days: 45, allow_custom_period: true });
    expect(policy.questions.map((q: { key: string }) => q.key)).toEqual(['contract', 'team']);
    expect(policy.questions[1].choices).toEqual(['Blue', 'Green']);
    const stages = await db('policy_stages').where({ policy_id: policy.id }).orderBy('position').select('position', 'timeout_days', 'require_approver_justification', 'escalation_after_days');
    expect(stages).toEqual([
      { position: 1, timeout_days: 7, require_approver_justification: true, escalation_after_days: null },
      { position: 2, timeout_days: 10, require_approver_justification: false, escalation_after_days: 5 },
    ]);
    const audit = await db('audit_log').where({ action: 'policy.created' }).orderBy('id', 'desc').first('details', 'target_id');
    expect(audit.details.after.name).toBe('Contractors: manager then security');
    expect(audit.target_id).toBe(policy.id);
  });

  it('asks how many days access lasts: left empty or 0, it would never end', async () => {
    const page = `/admin/access-packages/${PKG.repo}/policies/new`;
    for (const days of ['', '0']) {
      const res = await post(max, page, page, policyFields({ name: `Days ${days || 'empty'}`, expirationDays: days }));
      expect(res.status, days).toBe(422);
      expect(res.text).toContain('<a href="#expirationDays">Days: enter how many days access lasts, from 1 to 3660, or choose that access never ends</a>');
    }
    expect(await db('policies').whereLike('name', 'Days %').count('* as n')).toEqual([{ n: 0 }]);
  });

  it('refuses what the import refuses, with its messages (in the editor’s words where they name the file’s fields), at the fields', async () => {
    const page = `/admin/access-packages/${PKG.repo}/policies/new`;
    const res = await post(max, page, page, policyFields({
      name: 'Broken',
      'stage-1-timeoutDays': '3',
      'stage-1-escalationAfterDays': '2',
      'question-0-pattern': '^(C-',
      'stage-0-fallbackUsers': 'ghost@fabrikam.test',
    }));
    expect(res.status).toBe(422);
    // The same policy in a directory file, refused by the import:
    const file = (await exportDirectory(db, 'fabrikam.test'))!;
    const pkg = file.catalogs!.flatMap((c) => c.accessPackages ?? []).find((p) => p.id === PKG.repo)!;
    pkg.policies!.push({
      name: 'Broken',
      requestors: { scope: 'allMembers' },
      approval: {
        stages: [
          { approvers: [{ type: 'manager' }], fallbackApprovers: [{ type: 'user', email: 'ghost@fabrikam.test' }], timeoutDays: 7 },
          { approvers: [{ type: 'group', group: 'approvers' }], timeoutDays: 3, escalation: { afterDays: 2, approvers: [{ type: 'user', email: USER.admin }] } },
        ],
      },
      questions: [{ key: 'contract', text: 'Which contract?', type: 'shortText', required: true, pattern: '^(C-' }],
      expiration: { afterDays: 45 },
    });
    const imported = await importDirectory(db, file, { dryRun: true, clock: t.clock, actor: systemActor('test') });
    expect(imported.ok).toBe(false);
    const messages = imported.ok ? [] : imported.problems.map((p) => p.message);
    expect(messages.length).toBeGreaterThanOrEqual(3);
    const html = res.text.replaceAll('&quot;', '"').replaceAll('&#39;', "'");
    // Where the file's message names its field (timeoutDays), the editor says it in its own words.
    const inEditorWords: Record<string, string> = {
      'escalation needs a stage timeoutDays of at least 4 (this stage has 3)': 'Stage 2: forward to alternate approvers: needs at least 4 days to decide (this stage has 3)',
    };
    for (const message of messages) expect(html).toContain(inEditorWords[message] ?? message);
    expect(html).not.toContain('stage timeoutDays');
    expect(res.text).toContain('<a href="#stage-1-escalate">Stage 2: forward to alternate approvers: needs at least 4 days to decide (this stage has 3)</a>');
    expect(res.text).toContain('<a href="#question-0-pattern">');
    expect(res.text).toContain('<a href="#stage-0-fallbackUsers">');
    expect(await db('policies').where({ name: 'Broken' }).first()).toBeUndefined();
    const late = await post(max, page, page, policyFields({ name: 'Broken', 'stage-1-escalationAfterDays': '12' }));
    expect(late.status).toBe(422);
    expect(late.text).toContain('<a href="#stage-1-escalationAfterDays">Stage 2: forward after how many days: must be fewer than the days to decide (10)</a>');
  });

  it('refuses a policy form opened before someone else saved the policy (409), and keeps its version through Add and Remove', async () => {
    const members = await policyId(db, PKG.billingSubmit, 'Members');
    const editor = `/admin/access-packages/${PKG.billingSubmit}/policies/${members}`;
    const adaForm = (await ada.get(editor)).text;
    const fields = policyFields({ name: 'Members', scope: 'allMembers', requestorUsers: '', requestorGroups: [], stageCount: '1', 'stage-0-approvers': [], 'stage-0-approversUsers': USER.approver, 'stage-0-fallbackUsers': '', 'stage-0-timeoutDays': '7', questionCount: '0', attributeCount: '0' });
    // Ada adds a question (the form is drawn again, with the version it was opened at) ...
    const drawn = await ada.post(editor).type('form').send({ _csrf: csrfFrom(adaForm), ...versionOf(adaForm), ...fields, action: 'addQuestion' });
    expect(drawn.status).toBe(200);
    expect(versionOf(drawn.text)).toEqual(versionOf(adaForm));
    // ... while Max saves the policy with a longer timeout.
    expect((await post(max, editor, editor, { ...fields, 'stage-0-timeoutDays': '9' })).status).toBe(303);
    const stale = await ada.post(editor).type('form').send({ _csrf: csrfFrom(adaForm), ...versionOf(drawn.text), ...fields, name: 'Members (Ada)' });
    expect(stale.status).toBe(409);
    expect(stale.text).toContain('Someone else saved the policy Members after you opened this page, so your changes were not saved.');
    expect(stale.text).toMatch(/name="stage-0-timeoutDays"[^>]*value="9"|value="9"[^>]*name="stage-0-timeoutDays"/);
    expect((await db('policies').where({ id: members }).first('name')).name).toBe('Members');
    expect((await db('policy_stages').where({ policy_id: members }).first('timeout_days')).timeout_days).toBe(9);
  });

  it('never changes a pending request when its policy changes, and keeps it linked through a rename', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const wiki = await policyId(db, PKG.wiki, 'Staff: with approval');
    const request = await requestId(rita, PKG.wiki, wiki, validWiki);
    const editor = `/admin/access-packages/${PKG.wiki}/policies/${wiki}`;
    const form = await max.get(editor);
    expect(form.status).toBe(200);
    const res = await post(max, editor, editor, policyFields({
      name: 'Staff: with approval (renamed)',
      scope: 'specific',
      requestorUsers: '',
      requestorGroups: ['staff'],
      stageCount: '1',
      'stage-0-approvers': [],
      'stage-0-approversUsers': USER.approver,
      'stage-0-fallbackUsers': '',
      'stage-0-timeoutDays': '3',
      questionCount: '0',
      attributeCount: '0',
    }));
    expect(res.status).toBe(303);
    expect((await db('policies').where({ id: wiki }).first('name')).name).toBe('Staff: with approval (renamed)');
    expect((await db('requests').where({ id: request }).first('policy_id')).policy_id).toBe(wiki);
    const stage = await db('request_stages').where({ request_id: request }).first('timeout_days', 'due_at');
    expect(stage.timeout_days).toBe(14);
    const approvers = await db('request_stage_approvers as a').join('request_stages as s', 's.id', 'a.stage_id').join('users as u', 'u.id', 'a.user_id').where('s.request_id', request).pluck('u.email');
    expect(approvers).toEqual([USER.manager]);
    const audit = await db('audit_log').where({ action: 'policy.updated', target_id: wiki }).first('details');
    expect(audit.details.before.name).toBe('Staff: with approval');
    expect(audit.details.after.name).toBe('Staff: with approval (renamed)');
  });

  it('refuses to remove a policy that requests were made under', async () => {
    const wiki = await policyId(db, PKG.wiki, 'Staff: with approval (renamed)');
    const res = await post(max, `/admin/access-packages/${PKG.wiki}/policies/${wiki}/remove`, `/admin/access-packages/${PKG.wiki}/policies/${wiki}/remove`, {});
    expect(res.status).toBe(422);
    expect(res.text).toMatch(/cannot be removed/);
    expect(await db('policies').where({ id: wiki }).first('id')).toBeTruthy();
  });

  it('answers tampered policy posts with a 4xx and no change', async () => {
    const page = `/admin/access-packages/${PKG.repo}/policies/new`;
    const token = csrfFrom((await max.get(page)).text);
    const array = await max.post(page).type('form').send(`_csrf=${token}&name=a&name=b&action=save`);
    expect(array.status).toBe(400);
    const numbers = await post(max, page, page, policyFields({ name: 'Numbers', 'stage-0-timeoutDays': 'soon' }));
    expect(numbers.status).toBe(422);
    expect(numbers.text).toContain('Stage 1: decision must be made in how many days: enter a whole number');
    expect(numbers.text).toContain('id="stage-0-timeoutDays" name="stage-0-timeoutDays" type="text" value="soon"');
    expect(await db('policies').where({ name: 'Numbers' }).first()).toBeUndefined();

    // What was typed stays as typed, also when another button re-draws the form and moves the stage it was in.
    const moved = await post(max, page, page, policyFields({ name: 'Numbers', action: 'removeStage-0', expirationDays: '3O', 'stage-1-timeoutDays': 'ten', 'stage-1-escalationAfterDays': '5 days' }));
    expect(moved.status).toBe(200);
    expect(moved.text).toContain('id="expirationDays" name="expirationDays" type="text" value="3O"');
    expect(moved.text).toContain('id="stage-0-timeoutDays" name="stage-0-timeoutDays" type="text" value="ten"');
    expect(moved.text).toContain('id="stage-0-escalationAfterDays" name="stage-0-escalationAfterDays" type="text" value="5 days"');
    expect(moved.text).not.toContain('id="stage-1-timeoutDays"');
    // More days than the directory allows: the editor's own message, as its hint says (1 to 3660).
    const days = await post(max, page, page, policyFields({ name: 'Numbers', expirationDays: '99999' }));
    expect(days.status).toBe(422);
    expect(days.text).toContain('<a href="#expirationDays">Days: enter how many days access lasts, from 1 to 3660, or choose that access never ends</a>');
    const hours = await post(max, page, page, policyFields({ name: 'Numbers', expiration: 'afterHours', expirationHours: 'two' }));
    expect(hours.status).toBe(422);
    expect(hours.text).toContain('<a href="#expirationHours">Hours: enter a whole number</a>');
    expect(hours.text).toContain('id="expirationHours" name="expirationHours" type="text" value="two"');
  });
});
