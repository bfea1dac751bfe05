import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import express from 'express';
import session from 'express-session';
import supertest from 'supertest';
import type { Database } from '../../src/db/connect.ts';
import { importUploadParser } from '../../src/admin/import-upload.ts';
import { csrfProtection } from '../../src/web/csrf.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER, withOtherPackageIds, type FixtureFile } from '../support/fixtures.ts';
import { policyId, requestId } from '../support/flows.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];
let ada: Agent;
let max: Agent;
let original: FixtureFile;

const decode = (html: string) => html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const hidden = (html: string, name: string) => decode(new RegExp(`name="${name}" value="([^"]*)"`).exec(html)![1]);

async function exported(): Promise<FixtureFile> {
  const res = await ada.get('/admin/export');
  expect(res.status).toBe(200);
  return JSON.parse(res.text) as FixtureFile;
}

/** The exported directory with a user added and a group renamed. */
function edited(file: FixtureFile): FixtureFile {
  const next = structuredClone(file);
  next.users.push({ email: 'nora.new@fabrikam.test', displayName: 'Nora New', password: 'a-long-enough-password' });
  next.groups.find((g) => g.key === 'approvers')!.name = 'Invoice approvers';
  return next;
}

async function paste(agent: Agent, text: string) {
  const page = await agent.get('/admin/import');
  return agent.post('/admin/import').type('form').send({ _csrf: csrfFrom(page.text), source: 'paste', text });
}

async function apply(agent: Agent, planPage: string) {
  return agent.post('/admin/import/apply').type('form').send({ _csrf: csrfFrom(planPage), file: hidden(planPage, 'file'), plan: hidden(planPage, 'plan') });
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  await seedDirectory(database, withOtherPackageIds(fabrikam({ hint: 'elsewhere.test', name: 'Elsewhere' }), 'e1'), t.clock);
  ada = await signIn(t.app, USER.admin);
  max = await signIn(t.app, USER.manager);
  original = await exported();
});
afterAll(async () => {
  await database.close();
});
beforeEach(async () => {
  // Back to the original directory (the file from the export), whatever a test imported.
  const page = await paste(ada, JSON.stringify(original));
  if (page.text.includes('name="plan"')) expect((await apply(ada, page.text)).status).toBe(303);
});

describe('export', () => {
  it('downloads the directory as a file, and records who took it', async () => {
    const res = await ada.get('/admin/export');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="fabrikam.test-2027-01-15.json"');
    expect(res.headers['cache-control']).toBe('no-store');
    const file = JSON.parse(res.text);
    expect(file.directory).toEqual({ hint: 'fabrikam.test', name: 'Fabrikam', signIn: { password: true } });
    expect(file.users.map((u: { email: string }) => u.email)).toContain(USER.requestor);
    const [entry] = await db('audit_log').where({ action: 'directory.exported' }).orderBy('id', 'desc').limit(1);
    expect(entry.actor_label).toBe(USER.admin);
  });
});

describe('import', () => {
  it('shows the dry-run plan of a pasted file, changes nothing, then applies it', async () => {
    const plan = await paste(ada, JSON.stringify(edited(original), null, 2));
    expect(plan.status).toBe(200);
    expect(plan.text).toContain('Check the changes');
    expect(plan.text).toContain('would make 2 changes');
    expect(plan.text).toContain('Nothing has been changed yet.');
    expect(plan.text).toMatch(/<td>User<\/td>\s*<td>Create<\/td>\s*<th scope="row">nora.new@fabrikam.test<\/th>/);
    expect(plan.text).toMatch(/<td>Group<\/td>\s*<td>Update<\/td>\s*<th scope="row">approvers<\/th>\s*<td>Changes name<\/td>/);
    expect(plan.text).toContain('Users: 1 created; Groups: 1 updated.');
    expect(await db('users').where({ email: 'nora.new@fabrikam.test' }).count('* as n')).toEqual([{ n: 0 }]);

    const applied = await apply(ada, plan.text);
    expect(applied.status).toBe(303);
    expect(applied.headers.location).toBe('/admin/import');
    expect((await ada.get('/admin/import')).text).toContain('The directory file was imported. Users: 1 created; Groups: 1 updated.');
    expect(await db('users').where({ email: 'nora.new@fabrikam.test' }).count('* as n')).toEqual([{ n: 1 }]);
    expect((await db('groups').where({ key: 'approvers' }).join('directories as d', 'd.id', 'groups.directory_id').where('d.hint', 'fabrikam.test').first('groups.name')).name).toBe('Invoice approvers');
    const [entry] = await db('audit_log').where({ action: 'directory.imported' }).orderBy('id', 'desc').limit(1);
    expect(entry.actor_label).toBe(USER.admin);
    expect(entry.details.counts).toEqual({ user: { create: 1 }, group: { update: 1 } });

    // The same file again: no changes, and no Apply button.
    const again = await paste(ada, JSON.stringify(edited(original)));
    expect(again.text).toContain('No changes: Fabrikam already matches the file.');
    expect(again.text).not.toContain('Apply these changes');
  });

  it('gives the file back in the box when applying it is refused (the directory changed in a way the file no longer fits)', async () => {
    // The plan removes Repository access, which nobody has asked for yet ...
    const file = structuredClone(original);
    for (const c of file.catalogs) c.accessPackages = (c.accessPackages ?? []).filter((p: { id: string }) => p.id !== PKG.repo);
    const plan = await paste(ada, JSON.stringify(file));
    expect(plan.text).toContain('Apply these changes');
    // ... then someone asks for it, so its history forbids removing it.
    const rita = await signIn(t.app, USER.requestor);
    await requestId(rita, PKG.repo, await policyId(db, PKG.repo, 'Members'), {});
    const refusedNow = await apply(ada, plan.text);
    expect(refusedNow.status).toBe(422);
    expect(refusedNow.text).toContain('so nothing was imported');
    const box = /<textarea[^>]*id="text"[^>]*>([\s\S]*?)<\/textarea>/.exec(refusedNow.text)![1];
    expect(JSON.parse(decode(box))).toEqual(file);
  });

  it('refuses to apply when the directory changed since the plan was shown (409, nothing written)', async () => {
    const plan = await paste(ada, JSON.stringify(edited(original)));
    const other = await paste(ada, JSON.stringify(edited(original)));
    expect((await apply(ada, plan.text)).status).toBe(303);
    const late = await apply(ada, other.text);
    expect(late.status).toBe(409);
    expect(late.text).toContain('The directory changed since you checked the file');
    expect(late.text).toContain('No changes: Fabrikam already matches the file.');

    const tampered = await paste(ada, JSON.stringify(original));
    const res = await ada.post('/admin/import/apply').type('form').send({ _csrf: csrfFrom(tampered.text), file: hidden(tampered.text, 'file'), plan: 'not-the-plan' });
    expect(res.status).toBe(409);
    expect(await db('users').where({ email: 'nora.new@fabrikam.test' }).whereNull('disabled_at').count('* as n')).toEqual([{ n: 1 }]);

    // Two applies of one plan at once: one imports, the other is told the directory changed.
    const both = await paste(ada, JSON.stringify(original));
    const statuses = (await Promise.all([apply(ada, both.text), apply(ada, both.text)])).map((r) => r.status).sort();
    expect(statuses).toEqual([303, 409]);
  });

  it('lists the problems of a refused file with their JSON paths, and imports nothing', async () => {
    const broken = structuredClone(original) as FixtureFile & { users: Record<string, unknown>[] };
    broken.users[1].nickname = 'Maxi';
    broken.users[2].manager = 'nobody@fabrikam.test';
    const res = await paste(ada, JSON.stringify(broken));
    expect(res.status).toBe(422);
    expect(res.text).toContain('The file has');
    expect(res.text).toContain('so nothing was imported');
    expect(res.text).toContain('<code>users[1].nickname</code></th><td>unknown field</td>');
    const json = await paste(ada, '{"directory": ');
    expect(json.status).toBe(422);
    expect(json.text).toContain('The file has 1 problem, so nothing was imported');
    expect(json.text).toContain('<code>(file)</code></th><td>not valid JSON:');
    expect(json.text).toContain('{&quot;directory&quot;: </textarea>');

    const elsewhere = await paste(ada, JSON.stringify({ ...original, directory: { ...original.directory, hint: 'elsewhere.test' } }));
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.text).toContain('<code>directory.hint</code></th><td>is &quot;elsewhere.test&quot;, but this is the directory &quot;fabrikam.test&quot;: a file for another directory cannot be imported here');
    const oidc = { ...original, directory: { ...original.directory, signIn: { oidc: { issuer: 'https://idp.evil.test', clientId: 'x', clientSecretEnv: 'SESSION_SECRET' } } } };
    const signInChange = await paste(ada, JSON.stringify(oidc));
    expect(signInChange.status).toBe(422);
    expect(signInChange.text).toContain('<code>directory.signIn</code>');
    expect(signInChange.text).toContain('can only be changed by whoever runs Portico, with the command line');
    const empty = await paste(ada, '  ');
    expect(empty.status).toBe(422);
    expect(empty.text).toContain('Paste the contents of a directory file');
    expect((await db('directories').where({ hint: 'fabrikam.test' }).first('sign_in')).sign_in).toEqual({ password: true });

    // A removal the import refuses is a problem too (the package has history).
    const withHistory = structuredClone(original);
    const form = await ada.get(`/admin/access-packages/${original.catalogs[0].accessPackages[0].id}/assignments/new`);
    await ada.post(`/admin/access-packages/${original.catalogs[0].accessPackages[0].id}/assignments`).type('form').send({ _csrf: csrfFrom(form.text), email: USER.requestor, policy: (await db('policies').where({ access_package_id: original.catalogs[0].accessPackages[0].id }).first('id')).id });
    withHistory.catalogs[0].accessPackages.shift();
    const refused = await paste(ada, JSON.stringify(withHistory));
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('cannot be removed');
  });

  it('takes an uploaded file (multipart, as htmx sends it) up to the size limit', async () => {
    const page = await ada.get('/admin/import');
    const token = csrfFrom(page.text);
    const upload = () =>
      ada.post('/admin/import').set('X-CSRF-Token', token).set('HX-Request', 'true').set('HX-Target', 'import-content').field('_csrf', token).field('source', 'upload');
    const plan = await upload().attach('file', Buffer.from(JSON.stringify(edited(original))), { filename: 'fabrikam.json', contentType: 'application/json' });
    expect(plan.status).toBe(200);
    expect(plan.text).not.toContain('<html');
    expect(plan.text).toContain('would make 2 changes');
    // Apply as htmx does: multipart again, the file in a hidden field.
    const applied = await ada
      .post('/admin/import/apply')
      .set('X-CSRF-Token', token)
      .field('_csrf', token)
      .field('file', hidden(plan.text, 'file'))
      .field('plan', hidden(plan.text, 'plan'));
    expect(applied.status).toBe(303);
    expect(await db('users').where({ email: 'nora.new@fabrikam.test' }).whereNull('disabled_at').count('* as n')).toEqual([{ n: 1 }]);

    const empty = await upload().attach('file', Buffer.alloc(0), { filename: 'empty.json', contentType: 'application/json' });
    expect(empty.status).toBe(422);
    expect(empty.text).toContain('Choose a directory file to upload');
    const tooLarge = await upload().attach('file', Buffer.alloc(21 * 1024 * 1024, 32), { filename: 'big.json', contentType: 'application/json' });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.text).toContain('A directory file can be at most 20 MB');
  });

  it('refuses uploads without a valid token, and everyone but administrators', async () => {
    const page = await ada.get('/admin/import');
    const token = csrfFrom(page.text);
    const file = Buffer.from(JSON.stringify(edited(original)));
    // No header, as a browser without JavaScript sends it: the form's own field is the token.
    const noHeader = await ada.post('/admin/import').field('_csrf', token).field('source', 'upload').attach('file', file, 'f.json');
    expect(noHeader.status).toBe(200);
    const forged = await ada.post('/admin/import').field('_csrf', 'forged').field('source', 'upload').attach('file', file, 'f.json');
    expect(forged.status).toBe(403);
    const wrongField = await ada.post('/admin/import').set('X-CSRF-Token', token).field('_csrf', 'forged').field('source', 'upload').attach('file', file, 'f.json');
    expect(wrongField.status).toBe(403);
    const twice = await ada.post('/admin/import').set('X-CSRF-Token', token).field('_csrf', token).field('source', 'upload').field('source', 'paste').attach('file', file, 'f.json');
    expect(twice.status).toBe(400);

    const maxToken = csrfFrom((await max.get('/')).text);
    for (const path of ['/admin/import', '/admin/export']) expect((await max.get(path)).status).toBe(404);
    expect((await max.post('/admin/import').type('form').send({ _csrf: maxToken, source: 'paste', text: JSON.stringify(edited(original)) })).status).toBe(404);
    expect((await max.post('/admin/import').set('X-CSRF-Token', maxToken).field('_csrf', maxToken).field('source', 'upload').attach('file', file, 'f.json')).status).toBe(404);
    expect((await max.post('/admin/import/apply').type('form').send({ _csrf: maxToken, file: JSON.stringify(edited(original)), plan: 'x' })).status).toBe(404);
    const rita = await signIn(t.app, USER.requestor);
    expect((await rita.get('/admin/import')).status).toBe(404);
    expect(await db('users').where({ email: 'nora.new@fabrikam.test' }).count('* as n')).toEqual([{ n: 0 }]);
  });
});

describe('the upload parser mounted before the CSRF check', () => {
  it('lets a plain multipart form (no JavaScript) pass the one CSRF check with its _csrf field', async () => {
    const app = express();
    app.use(session({ secret: 'x'.repeat(32), resave: false, saveUninitialized: true }));
    app.use((req, _res, next) => {
      req.user = { isAdmin: req.get('X-Test-Admin') === 'yes' } as Express.User;
      next();
    });
    app.use(importUploadParser());
    app.use(csrfProtection(['http://127.0.0.1']));
    app.get('/token', (_req, res) => {
      res.send(res.locals.csrfToken);
    });
    app.post('/admin/import', (req, res) => {
      res.json(req.body);
    });
    app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status ?? 500).send('refused');
    });
    const agent = supertest.agent(app);
    const token = (await agent.get('/token')).text;
    const ok = await agent.post('/admin/import').set('X-Test-Admin', 'yes').field('_csrf', token).field('source', 'upload').attach('file', Buffer.from('{"a":1}'), 'f.json');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ _csrf: token, source: 'upload', file: '{"a":1}', fileName: 'f.json' });
    const forged = await agent.post('/admin/import').set('X-Test-Admin', 'yes').field('_csrf', 'forged').attach('file', Buffer.from('{}'), 'f.json');
    expect(forged.status).toBe(403);
    // Someone who is not an administrator: the body is not even read, and the check refuses it.
    const notAdmin = await agent.post('/admin/import').field('_csrf', token).attach('file', Buffer.from('{}'), 'f.json');
    expect(notAdmin.status).toBe(403);
  });
});
