import { hashPassword } from '../../src/auth/password.ts';
import type { Database } from '../../src/db/connect.ts';
import { createTestApp, seedDirectory, TEST_PASSWORD, type TestApp } from './app.ts';
import { createTestDatabase } from './db.ts';

// Hashed once per test file: scrypt is slow on purpose.
const passwordHash = await hashPassword(TEST_PASSWORD);

export const PKG = {
  wiki: '11111111-1111-4111-8111-111111111111',
  repo: '22222222-2222-4222-8222-222222222222',
  billingSubmit: '33333333-3333-4333-8333-333333333333',
  billingApprove: '44444444-4444-4444-8444-444444444444',
  board: '55555555-5555-4555-8555-555555555555',
  adminOnly: '66666666-6666-4666-8666-666666666666',
  partner: '77777777-7777-4777-8777-777777777777',
  archived: '88888888-8888-4888-8888-888888888888',
  closed: '99999999-9999-4999-8999-999999999999',
  twoStage: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
} as const;

export const USER = {
  admin: 'ada.admin@fabrikam.test',
  manager: 'max.manager@fabrikam.test',
  requestor: 'rita.requestor@fabrikam.test',
  other: 'otto.other@fabrikam.test',
  guest: 'gus.guest@partner.test',
  approver: 'apu.approver@fabrikam.test',
  noManager: 'nina.nomanager@fabrikam.test',
  lead: 'lia.lead@fabrikam.test',
} as const;

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface FixtureFile {
  directory: { hint: string; name: string; signIn: Record<string, unknown> };
  users: any[];
  groups: any[];
  catalogs: any[];
  assignments: any[];
  accessReviews: any[];
}

/** A small directory that exercises every requestor rule. Dates are relative to the import's clock. */
export function fabrikam(overrides: { hint?: string; name?: string } = {}): FixtureFile {
  const user = (email: string, displayName: string, extra: Record<string, unknown> = {}) => ({ email, displayName, passwordHash, ...extra });
  return {
    directory: { hint: overrides.hint ?? 'fabrikam.test', name: overrides.name ?? 'Fabrikam', signIn: { password: true } },
    users: [
      user(USER.admin, 'Ada Admin', { roles: ['admin'] }),
      user(USER.manager, 'Max Manager', { attributes: { department: 'Engineering' } }),
      user(USER.requestor, 'Rita Requestor', { manager: USER.manager, attributes: { department: 'Engineering', costCenter: 'CC-42' } }),
      user(USER.other, 'Otto Other', { manager: USER.manager, attributes: { department: 'Sales' } }),
      user(USER.guest, 'Gus Guest', { type: 'guest', sponsors: [USER.manager] }),
      user(USER.approver, 'Apu Approver'),
      user(USER.noManager, 'Nina Nomanager'),
      user(USER.lead, 'Lia Lead', { manager: USER.manager }),
    ],
    groups: [
      { key: 'staff', name: 'Staff', members: [USER.requestor, USER.other, USER.manager, USER.noManager, USER.lead] },
      { key: 'approvers', name: 'Approvers', members: [USER.approver, USER.lead] },
    ],
    catalogs: [
      {
        name: 'General',
        description: 'Everyday tools.',
        owners: [USER.manager],
        resources: [
          { key: 'wiki', type: 'site', name: 'Team Wiki', url: 'https://wiki.fabrikam.test', roles: ['Reader', 'Editor'] },
          { key: 'repo', type: 'group', name: 'Source Repository', description: 'All the code.', roles: ['Member', 'Owner'] },
          { key: 'billing', type: 'application', name: 'Billing System', roles: ['Submitter', 'Approver'] },
          { key: 'portal', type: 'site', name: 'Partner Portal', roles: ['Visitor'] },
        ],
        accessPackages: [
          {
            id: PKG.wiki,
            name: 'Wiki editors',
            description: 'Edit pages of the team wiki.',
            resourceRoles: [{ resource: 'wiki', role: 'Editor' }],
            policies: [
              {
                name: 'Staff: with approval',
                description: 'Thirty days, approved by your manager.',
                requestors: { scope: 'specific', groups: ['staff'] },
                requireJustification: true,
                approval: { stages: [{ approvers: [{ type: 'manager' }], fallbackApprovers: [{ type: 'user', email: USER.approver }], timeoutDays: 14 }] },
                questions: [
                  { key: 'ticket', text: 'Which ticket is this for?', type: 'shortText', required: true, pattern: '^[A-Z]+-[0-9]+$', patternHint: 'A ticket key such as WIKI-12' },
                  { key: 'use', text: 'What will you edit?', type: 'multipleChoice', choices: ['Runbooks', 'Design docs', 'Other'], required: true },
                  { key: 'notes', text: 'Anything else?', type: 'longText', required: false },
                ],
                requestorAttributes: [
                  { attribute: 'costCenter', label: 'Cost center', type: 'shortText', required: true, editable: false },
                  { attribute: 'phone', label: 'Phone number', type: 'shortText', required: false, editable: true },
                ],
                expiration: { afterDays: 30 },
                allowCustomPeriod: true,
              },
              {
                name: 'Staff: one day, no approval',
                requestors: { scope: 'specific', groups: ['staff'] },
                approval: null,
                expiration: { afterDays: 1 },
              },
            ],
          },
          {
            id: PKG.repo,
            name: 'Repository access',
            description: 'Read and push to the source repository.',
            resourceRoles: [{ resource: 'repo', role: 'Member' }],
            policies: [{ name: 'Members', requestors: { scope: 'allMembers' }, approval: null, expiration: { afterDays: 90 }, allowCustomPeriod: true }],
          },
          {
            id: PKG.billingSubmit,
            name: 'Billing: submit',
            description: 'Submit invoices.',
            resourceRoles: [{ resource: 'billing', role: 'Submitter' }],
            incompatibleWith: [PKG.billingApprove],
            policies: [{ name: 'Members', requestors: { scope: 'allMembers' }, approval: { stages: [{ approvers: [{ type: 'user', email: USER.approver }], timeoutDays: 7 }] }, expiration: { afterDays: 365 } }],
          },
          {
            id: PKG.billingApprove,
            name: 'Billing: approve',
            description: 'Approve invoices submitted by others.',
            resourceRoles: [{ resource: 'billing', role: 'Approver' }],
            incompatibleWith: [PKG.billingSubmit],
            policies: [{ name: 'Members', requestors: { scope: 'allMembers' }, approval: null, expiration: { afterDays: 365 } }],
          },
          {
            id: PKG.board,
            name: 'Board papers',
            description: 'Shared by link only.',
            hidden: true,
            resourceRoles: [{ resource: 'wiki', role: 'Reader' }],
            policies: [{ name: 'Members with the link', requestors: { scope: 'allMembers' }, approval: null, expiration: { afterDays: 30 } }],
          },
          {
            id: PKG.adminOnly,
            name: 'Repository owners',
            description: 'Assigned by administrators only.',
            resourceRoles: [{ resource: 'repo', role: 'Owner' }],
            policies: [{ name: 'Administrators assign', requestors: { scope: 'none' }, expiration: { never: true } }],
          },
          {
            id: PKG.partner,
            name: 'Partner portal',
            description: 'Open to guests.',
            resourceRoles: [{ resource: 'portal', role: 'Visitor' }],
            policies: [
              {
                name: 'Everyone: sponsor approval',
                requestors: { scope: 'allUsers' },
                approval: { stages: [{ approvers: [{ type: 'sponsor' }], fallbackApprovers: [{ type: 'user', email: USER.admin }], timeoutDays: 14 }] },
                expiration: { afterDays: 60 },
              },
            ],
          },
          {
            id: PKG.closed,
            name: 'Closed for requests',
            description: 'Its policy takes no new requests.',
            resourceRoles: [{ resource: 'wiki', role: 'Reader' }],
            policies: [{ name: 'Paused', requestors: { scope: 'allMembers' }, acceptRequests: false, approval: null, expiration: { afterDays: 10 } }],
          },
          {
            id: PKG.twoStage,
            name: 'Production console',
            description: 'Two approvals needed.',
            resourceRoles: [{ resource: 'repo', role: 'Owner' }],
            policies: [
              {
                name: 'Two stages',
                requestors: { scope: 'allMembers' },
                requireJustification: true,
                approval: {
                  stages: [
                    { approvers: [{ type: 'manager' }], fallbackApprovers: [{ type: 'group', group: 'approvers' }], timeoutDays: 7, requireApproverJustification: true },
                    { approvers: [{ type: 'group', group: 'approvers' }], timeoutDays: 7, escalation: { afterDays: 4, approvers: [{ type: 'user', email: USER.admin }] } },
                  ],
                },
                expiration: { afterDays: 7 },
              },
            ],
          },
        ],
      },
      {
        name: 'Archive',
        description: 'Disabled catalog.',
        enabled: false,
        owners: [],
        resources: [{ key: 'old', type: 'application', name: 'Old System', roles: ['User'] }],
        accessPackages: [
          {
            id: PKG.archived,
            name: 'Old system',
            description: 'In a disabled catalog.',
            resourceRoles: [{ resource: 'old', role: 'User' }],
            policies: [{ name: 'Members', requestors: { scope: 'allMembers' }, approval: null, expiration: { afterDays: 30 } }],
          },
        ],
      },
    ],
    assignments: [],
    accessReviews: [],
  };
}

/** The same file with every package id changed, for a second directory (ids are unique across directories). */
export function withOtherPackageIds(file: FixtureFile, variant: string): FixtureFile {
  let json = JSON.stringify(file);
  for (const id of Object.values(PKG)) json = json.replaceAll(id, `${id.slice(0, -variant.length)}${variant}`);
  return JSON.parse(json) as FixtureFile;
}

/** A database of its own with the Fabrikam directory, and an app on it: what most test files start from. */
export async function fabrikamApp(): Promise<{ database: Database; db: Database['db']; t: TestApp }> {
  const database = await createTestDatabase();
  const t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  return { database, db: database.db, t };
}
