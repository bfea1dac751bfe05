import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { checkIntegrity } from '../../src/integrity/checks.ts';
import { signIn, type TestApp } from '../support/app.ts';
import { fabrikam, fabrikamApp, PKG, USER } from '../support/fixtures.ts';

// What a package gives is kept on the package (access_packages.resources, by triggers) for Available
// and the package pane: it must follow every change to the package's roles, its roles and its resources.

let database: Database;
let t: TestApp;
let db: Database['db'];

beforeAll(async () => {
  ({ database, db, t } = await fabrikamApp());
});
afterAll(() => database.close());

const listed = async (pkg: string) => (await db('access_packages').where({ id: pkg }).first('resources')).resources as { resourceName: string; roleName: string; url: string | null; description: string; resourceType: string }[];
const resourceId = async (key: string) => (await db('resources').where({ key }).first('id')).id as string;
const roleId = async (resourceKey: string, name: string) => (await db('resource_roles').where({ resource_id: await resourceId(resourceKey), name }).first('id')).id as string;

describe('what a package gives, as Available lists it', () => {
  it('is what the directory file gave the package, in resource-name order', async () => {
    expect(await listed(PKG.wiki)).toEqual([{ resourceName: 'Team Wiki', resourceType: 'site', roleName: 'Editor', url: 'https://wiki.fabrikam.test', description: '' }]);
    expect(await checkIntegrity(db)).toEqual([]);
    const rita = await signIn(t.app, USER.requestor);
    expect((await rita.get('/access-packages')).text).toContain('Team Wiki (Editor)');
  });

  it('follows a resource renamed, relinked and redescribed, and a role renamed, as the search does', async () => {
    await db('resources').where({ id: await resourceId('wiki') }).update({ name: 'Knowledge Base', url: 'https://kb.fabrikam.test', description: 'Pages.' });
    await db('resource_roles').where({ id: await roleId('wiki', 'Editor') }).update({ name: 'Author' });
    expect(await listed(PKG.wiki)).toEqual([{ resourceName: 'Knowledge Base', resourceType: 'site', roleName: 'Author', url: 'https://kb.fabrikam.test', description: 'Pages.' }]);
    const rita = await signIn(t.app, USER.requestor);
    const page = (await rita.get('/access-packages')).text;
    expect(page).toContain('Knowledge Base (Author)');
    expect(page).not.toContain('Team Wiki');
    // The search text follows too (the same triggers keep both).
    expect((await rita.get('/access-packages?q=knowledge')).text).toContain('Knowledge Base (Author)');
    expect(await checkIntegrity(db)).toEqual([]);
  });

  it('follows roles added to and removed from a package, and a resource deleted with its roles', async () => {
    await db('access_package_resource_roles').insert([
      { access_package_id: PKG.wiki, resource_role_id: await roleId('portal', 'Visitor') },
      { access_package_id: PKG.wiki, resource_role_id: await roleId('wiki', 'Reader') },
    ]);
    // By resource name, then by the roles' order within their resource (Reader was given first).
    const shown = async () => (await listed(PKG.wiki)).map((r) => `${r.resourceName} (${r.roleName})`);
    expect(await shown()).toEqual(['Knowledge Base (Reader)', 'Knowledge Base (Author)', 'Partner Portal (Visitor)']);
    await db('resource_roles').where({ id: await roleId('wiki', 'Reader') }).update({ position: 9 });
    expect(await shown()).toEqual(['Knowledge Base (Author)', 'Knowledge Base (Reader)', 'Partner Portal (Visitor)']);
    await db('access_package_resource_roles').where({ access_package_id: PKG.wiki, resource_role_id: await roleId('wiki', 'Author') }).delete();
    expect(await shown()).toEqual(['Knowledge Base (Reader)', 'Partner Portal (Visitor)']);
    expect(await checkIntegrity(db)).toEqual([]);

    const portal = await resourceId('portal');
    const packagesOfPortal = await db('access_package_resource_roles as x').join('resource_roles as rr', 'rr.id', 'x.resource_role_id').where('rr.resource_id', portal).pluck('x.access_package_id');
    await db('access_package_resource_roles').whereIn('access_package_id', packagesOfPortal).whereIn('resource_role_id', db('resource_roles').where({ resource_id: portal }).select('id')).delete();
    await db('resource_roles').where({ resource_id: portal }).delete();
    await db('resources').where({ id: portal }).delete();
    expect((await listed(PKG.wiki)).map((r) => r.resourceName)).toEqual(['Knowledge Base']);
    expect(await checkIntegrity(db)).toEqual([]);
  });

  it('follows a role moved to another package or to another resource, as the search does', async () => {
    const reader = await roleId('wiki', 'Reader');
    await db('access_package_resource_roles').where({ access_package_id: PKG.wiki, resource_role_id: reader }).update({ access_package_id: PKG.repo });
    expect((await listed(PKG.wiki)).map((r) => r.roleName)).not.toContain('Reader');
    expect((await listed(PKG.repo)).map((r) => `${r.resourceName} (${r.roleName})`)).toContain('Knowledge Base (Reader)');
    await db('resource_roles').where({ id: reader }).update({ resource_id: await resourceId('billing') });
    expect((await listed(PKG.repo)).map((r) => `${r.resourceName} (${r.roleName})`)).toContain('Billing System (Reader)');
    const rita = await signIn(t.app, USER.requestor);
    expect((await rita.get('/access-packages?q=billing+system&field=resources')).text).toContain('Billing System (Reader)');
    expect(await checkIntegrity(db)).toEqual([]);
  });

  it('is reported by the integrity checker when it was changed by hand', async () => {
    await db('access_packages').where({ id: PKG.repo }).update({ resources: JSON.stringify([]) });
    expect((await checkIntegrity(db)).map((b) => b.rule)).toEqual(['a package lists what its resource roles give (kept by triggers)']);
    await db.raw('update access_packages set resources = access_package_resources(id) where id = ?', [PKG.repo]);
    expect(await checkIntegrity(db)).toEqual([]);
  });
});
