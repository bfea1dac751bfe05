import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { directoryFileSchema, isDateString, relativeOffset, resolveDate } from '../../src/directory/format.ts';
import { parseDirectoryFile } from '../../src/directory/validate.ts';

const CONTOSO = '/work/shared/fixtures/contoso.json';
const DEMO = new URL('../../src/directory/demo/portico-demo.json', import.meta.url);
const readJson = (file: string | URL) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

const minimal = () => ({
  directory: { hint: 'example.org', name: 'Example' },
  users: [{ email: 'Ann@Example.org', displayName: 'Ann' }],
  catalogs: [
    {
      name: 'Tools',
      resources: [{ key: 'wiki', type: 'site', name: 'Wiki', roles: ['Visitor'] }],
      accessPackages: [
        {
          id: '11111111-1111-4111-8111-111111111111',
          name: 'Wiki',
          resourceRoles: [{ resource: 'wiki', role: 'Visitor' }],
          policies: [{ name: 'All', requestors: { scope: 'allMembers' }, approval: { stages: [{ approvers: [{ type: 'manager' }] }] } }],
        },
      ],
    },
  ],
});

describe('directory file schema', () => {
  it.skipIf(!existsSync(CONTOSO))('accepts the contract example contoso.json', () => {
    const result = parseDirectoryFile(readJson(CONTOSO));
    expect(result.ok ? [] : result.problems).toEqual([]);
  });

  it('accepts our demo directory file', () => {
    const result = parseDirectoryFile(readJson(DEMO));
    expect(result.ok ? [] : result.problems).toEqual([]);
  });

  it('fills in the documented defaults and lower-cases emails', () => {
    const file = directoryFileSchema.parse(minimal());
    expect(file.directory.signIn).toEqual({ password: true });
    expect(file.users[0]).toMatchObject({ email: 'ann@example.org', type: 'member', sponsors: [], attributes: {}, roles: [] });
    expect(file.groups).toEqual([]);
    expect(file.assignments).toEqual([]);
    expect(file.accessReviews).toEqual([]);
    const catalog = file.catalogs[0];
    expect(catalog).toMatchObject({ enabled: true, description: '', owners: [] });
    const pkg = catalog.accessPackages[0];
    expect(pkg).toMatchObject({ hidden: false, description: '', incompatibleWith: [] });
    const policy = pkg.policies[0];
    expect(policy).toMatchObject({
      acceptRequests: true,
      requireJustification: false,
      allowCustomPeriod: false,
      questions: [],
      requestorAttributes: [],
      expiration: { never: true },
    });
    expect(policy.approval!.stages[0]).toEqual({ approvers: [{ type: 'manager' }], fallbackApprovers: [], timeoutDays: 14, requireApproverJustification: false });
  });

  it('treats an absent approval as no approval (null)', () => {
    const input = minimal();
    delete (input.catalogs[0].accessPackages[0].policies[0] as { approval?: unknown }).approval;
    expect(directoryFileSchema.parse(input).catalogs[0].accessPackages[0].policies[0].approval).toBeNull();
  });

  it('rejects unknown fields at every level, each with its path', () => {
    const input = minimal() as Record<string, any>;
    input.extra = 1;
    input.directory.colour = 'blue';
    input.users[0].nickname = 'A';
    input.catalogs[0].owner = 'x';
    input.catalogs[0].accessPackages[0].policies[0].approval.stages[0].approvers[0].email = 'x@y';
    const result = parseDirectoryFile(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(
      expect.arrayContaining([
        { path: 'extra', message: 'unknown field' },
        { path: 'directory.colour', message: 'unknown field' },
        { path: 'users[0].nickname', message: 'unknown field' },
        { path: 'catalogs[0].owner', message: 'unknown field' },
        { path: 'catalogs[0].accessPackages[0].policies[0].approval.stages[0].approvers[0].email', message: 'unknown field' },
      ]),
    );
    expect(result.problems).toHaveLength(5);
  });

  it('reports type errors and bad enum values with paths in the same style', () => {
    const input = minimal() as Record<string, any>;
    input.users[0].type = 'robot';
    delete input.users[0].displayName;
    input.catalogs[0].accessPackages[0].policies[0].requestors = { scope: 'everyone' };
    input.catalogs[0].accessPackages[0].policies[0].approval.stages[0].timeoutDays = '7';
    const result = parseDirectoryFile(input);
    expect(result.ok ? [] : result.problems).toEqual([
      { path: 'users[0].displayName', message: 'required' },
      { path: 'users[0].type', message: 'must be one of "member", "guest"' },
      { path: 'catalogs[0].accessPackages[0].policies[0].requestors.scope', message: 'must be one of "specific", "allMembers", "allUsers", "none"' },
      { path: 'catalogs[0].accessPackages[0].policies[0].approval.stages[0].timeoutDays', message: 'must be a number' },
    ]);
  });
});

describe('dates', () => {
  const now = new Date('2026-11-24T10:00:00.000Z');

  it('parses ISO 8601 dates and datetimes', () => {
    expect(resolveDate('2027-06-30', now).toISOString()).toBe('2027-06-30T00:00:00.000Z');
    expect(resolveDate('2027-06-30T17:00:00Z', now).toISOString()).toBe('2027-06-30T17:00:00.000Z');
    expect(resolveDate('2027-06-30T17:00:00.250Z', now).toISOString()).toBe('2027-06-30T17:00:00.250Z');
    expect(resolveDate('2027-06-30T17:00:00+02:00', now).toISOString()).toBe('2027-06-30T15:00:00.000Z');
    expect(resolveDate('2027-06-30T17:00', now).toISOString()).toBe('2027-06-30T17:00:00.000Z');
  });

  it('resolves relative dates against the given moment', () => {
    expect(resolveDate('now', now).toISOString()).toBe('2026-11-24T10:00:00.000Z');
    expect(resolveDate('now-7d', now).toISOString()).toBe('2026-11-17T10:00:00.000Z');
    expect(resolveDate('now+30d', now).toISOString()).toBe('2026-12-24T10:00:00.000Z');
    expect(resolveDate('now+8h', now).toISOString()).toBe('2026-11-24T18:00:00.000Z');
    expect(relativeOffset('now-1d')).toBe(-86_400_000);
    expect(relativeOffset('2027-01-01')).toBeNull();
  });

  it('rejects what is not a date', () => {
    for (const bad of ['2027-02-30', '2027-13-01', '27-06-30', 'tomorrow', 'now-7', 'now-7w', 'now - 7d', '2027-06-30T25:00:00Z', '']) {
      expect(isDateString(bad), bad).toBe(false);
    }
    const input = minimal() as Record<string, any>;
    input.users[0].lastSignIn = 'yesterday';
    const result = parseDirectoryFile(input);
    expect(result.ok ? [] : result.problems).toEqual([
      { path: 'users[0].lastSignIn', message: 'expected an ISO 8601 date (2027-06-30 or 2027-06-30T17:00:00Z) or now, now-7d, now+30d, now+8h' },
    ]);
  });
});
