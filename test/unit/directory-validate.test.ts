import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.ts';
import { parseDirectoryFile, type Problem } from '../../src/directory/validate.ts';

const P1 = '11111111-1111-4111-8111-111111111111';
const P2 = '22222222-2222-4222-8222-222222222222';
const R1 = '33333333-3333-4333-8333-333333333333';
const NOW = new Date('2026-11-24T10:00:00Z');

/** A small valid file; each test breaks one thing in a copy of it. */
function base() {
  return {
    directory: { hint: 'example.org', name: 'Example', signIn: { password: true } as Record<string, unknown> },
    users: [
      { email: 'boss@example.org', displayName: 'Boss', password: 'pw-boss' } as Record<string, any>,
      { email: 'ann@example.org', displayName: 'Ann', manager: 'boss@example.org', password: 'pw-ann' } as Record<string, any>,
      { email: 'gus@partner.example', displayName: 'Gus', type: 'guest', sponsors: ['boss@example.org'] } as Record<string, any>,
    ],
    groups: [{ key: 'team', name: 'Team', members: ['ann@example.org'] }] as Record<string, any>[],
    catalogs: [
      {
        name: 'Tools',
        owners: ['boss@example.org'],
        resources: [
          { key: 'wiki', type: 'site', name: 'Wiki', roles: ['Visitor', 'Editor'] },
          { key: 'app', type: 'application', name: 'App', roles: ['User'] },
        ] as Record<string, any>[],
        accessPackages: [
          {
            id: P1,
            name: 'Wiki',
            resourceRoles: [{ resource: 'wiki', role: 'Visitor' }],
            incompatibleWith: [P2],
            policies: [
              {
                name: 'Team',
                requestors: { scope: 'specific', users: ['ann@example.org'], groups: ['team'] },
                approval: {
                  stages: [
                    { approvers: [{ type: 'manager' }], fallbackApprovers: [{ type: 'group', group: 'team' }], timeoutDays: 7 },
                    { approvers: [{ type: 'user', email: 'boss@example.org' }], timeoutDays: 7, escalation: { afterDays: 4, approvers: [{ type: 'group', group: 'team' }] } },
                  ],
                },
                questions: [
                  { key: 'ticket', text: 'Ticket?', type: 'shortText', required: true, pattern: '^T-[0-9]+$' },
                  { key: 'why', text: 'Why?', type: 'multipleChoice', choices: ['A', 'B'] },
                ],
                requestorAttributes: [{ attribute: 'costCenter', label: 'Cost center', editable: false }],
                expiration: { afterDays: 30 },
              },
            ] as Record<string, any>[],
          },
          { id: P2, name: 'App', resourceRoles: [{ resource: 'app', role: 'User' }], policies: [{ name: 'All', requestors: { scope: 'allMembers' } }] },
        ] as Record<string, any>[],
      },
    ] as Record<string, any>[],
    assignments: [{ user: 'ann@example.org', accessPackage: P1, policy: 'Team', start: 'now-1d', end: 'now+10d' }] as Record<string, any>[],
    accessReviews: [
      { id: R1, name: 'Wiki review', scope: { accessPackage: P1 }, reviewers: { type: 'specific', users: ['boss@example.org'] }, startsOn: 'now', durationDays: 7 },
    ] as Record<string, any>[],
  };
}
type File = ReturnType<typeof base>;

function problemsOf(mutate: (f: File) => void): Problem[] {
  const f = base();
  mutate(f);
  const result = parseDirectoryFile(f, NOW);
  return result.ok ? [] : result.problems;
}

const pol = (f: File) => f.catalogs[0].accessPackages[0].policies[0];
const POL = 'catalogs[0].accessPackages[0].policies[0]';

describe('directory file validation', () => {
  it('accepts the base file', () => {
    expect(problemsOf(() => {})).toEqual([]);
  });

  const cases: [string, (f: File) => void, Problem[]][] = [
    ['unknown manager', (f) => (f.users[1].manager = 'nobody@example.org'), [{ path: 'users[1].manager', message: 'unknown user nobody@example.org' }]],
    ['own manager', (f) => (f.users[1].manager = 'ann@example.org'), [{ path: 'users[1].manager', message: 'a user cannot be their own manager' }]],
    ['unknown sponsor', (f) => (f.users[2].sponsors = ['x@example.org']), [{ path: 'users[2].sponsors[0]', message: 'unknown user x@example.org' }]],
    ['unknown owner', (f) => (f.catalogs[0].owners = ['x@example.org']), [{ path: 'catalogs[0].owners[0]', message: 'unknown user x@example.org' }]],
    ['unknown group member', (f) => f.groups[0].members.push('x@example.org'), [{ path: 'groups[0].members[1]', message: 'unknown user x@example.org' }]],
    [
      'unknown approver',
      (f) => (pol(f).approval.stages[1].approvers[0].email = 'x@example.org'),
      [{ path: `${POL}.approval.stages[1].approvers[0].email`, message: 'unknown user x@example.org' }],
    ],
    ['unknown requestor', (f) => (pol(f).requestors.users = ['x@example.org']), [{ path: `${POL}.requestors.users[0]`, message: 'unknown user x@example.org' }]],
    ['unknown requestor group', (f) => (pol(f).requestors.groups = ['nope']), [{ path: `${POL}.requestors.groups[0]`, message: 'unknown group nope' }]],
    [
      'unknown approver group',
      (f) => (pol(f).approval.stages[0].fallbackApprovers[0].group = 'nope'),
      [{ path: `${POL}.approval.stages[0].fallbackApprovers[0].group`, message: 'unknown group nope' }],
    ],
    [
      'unknown resource key',
      (f) => (f.catalogs[0].accessPackages[0].resourceRoles[0].resource = 'nope'),
      [{ path: 'catalogs[0].accessPackages[0].resourceRoles[0].resource', message: 'unknown resource nope' }],
    ],
    [
      'role not among the resource roles',
      (f) => (f.catalogs[0].accessPackages[0].resourceRoles[0].role = 'Owner'),
      [{ path: 'catalogs[0].accessPackages[0].resourceRoles[0].role', message: 'resource wiki has no role Owner (its roles: Visitor, Editor)' }],
    ],
    [
      'unknown incompatible package',
      (f) => (f.catalogs[0].accessPackages[0].incompatibleWith = ['44444444-4444-4444-8444-444444444444']),
      [{ path: 'catalogs[0].accessPackages[0].incompatibleWith[0]', message: 'unknown access package 44444444-4444-4444-8444-444444444444' }],
    ],
    [
      'package incompatible with itself',
      (f) => (f.catalogs[0].accessPackages[0].incompatibleWith = [P1]),
      [{ path: 'catalogs[0].accessPackages[0].incompatibleWith[0]', message: 'an access package cannot be incompatible with itself' }],
    ],
    [
      'unknown package in an assignment',
      (f) => (f.assignments[0].accessPackage = '44444444-4444-4444-8444-444444444444'),
      [{ path: 'assignments[0].accessPackage', message: 'unknown access package 44444444-4444-4444-8444-444444444444' }],
    ],
    ['unknown policy in an assignment', (f) => (f.assignments[0].policy = 'Other'), [{ path: 'assignments[0].policy', message: `access package ${P1} has no policy named Other` }]],
    ['unknown user in an assignment', (f) => (f.assignments[0].user = 'x@example.org'), [{ path: 'assignments[0].user', message: 'unknown user x@example.org' }]],
    [
      'unknown package in a review scope',
      (f) => (f.accessReviews[0].scope = { accessPackage: '44444444-4444-4444-8444-444444444444' }),
      [{ path: 'accessReviews[0].scope.accessPackage', message: 'unknown access package 44444444-4444-4444-8444-444444444444' }],
    ],
    ['unknown group in a review scope', (f) => (f.accessReviews[0].scope = { group: 'nope' }), [{ path: 'accessReviews[0].scope.group', message: 'unknown group nope' }]],
    ['unknown resource in a review scope', (f) => (f.accessReviews[0].scope = { resource: 'nope' }), [{ path: 'accessReviews[0].scope.resource', message: 'unknown resource nope' }]],
    ['two review scopes', (f) => (f.accessReviews[0].scope = { group: 'team', resource: 'wiki' }), [{ path: 'accessReviews[0].scope', message: 'give exactly one of accessPackage, group or resource' }]],
    ['specific reviewers without users', (f) => (f.accessReviews[0].reviewers = { type: 'specific', users: [] }), [{ path: 'accessReviews[0].reviewers.users', message: 'specific reviewers need at least one user' }]],
    [
      'duplicate email (case-insensitive)',
      (f) => f.users.push({ email: 'ANN@example.org', displayName: 'Ann again' }),
      [{ path: 'users[3].email', message: 'duplicate email ann@example.org (also users[1])' }],
    ],
    ['duplicate group key', (f) => f.groups.push({ key: 'team', name: 'Other' }), [{ path: 'groups[1].key', message: 'duplicate group key team (also groups[0])' }]],
    [
      'duplicate resource key across catalogs',
      (f) => f.catalogs.push({ name: 'More', resources: [{ key: 'wiki', type: 'site', name: 'Wiki 2', roles: ['Visitor'] }] }),
      [{ path: 'catalogs[1].resources[0].key', message: 'duplicate resource key wiki (also catalogs[0].resources[0])' }],
    ],
    [
      'duplicate package id',
      (f) => f.catalogs.push({ name: 'More', accessPackages: [{ id: P1, name: 'Copy', policies: [] }] }),
      [{ path: 'catalogs[1].accessPackages[0].id', message: `duplicate access package id ${P1} (also catalogs[0].accessPackages[0])` }],
    ],
    [
      'duplicate review id',
      (f) => f.accessReviews.push({ ...f.accessReviews[0], name: 'Other review' }),
      [{ path: 'accessReviews[1].id', message: `duplicate access review id ${R1} (also accessReviews[0])` }],
    ],
    ['duplicate catalog name', (f) => f.catalogs.push({ name: 'Tools' }), [{ path: 'catalogs[1].name', message: 'duplicate catalog name Tools (also catalogs[0])' }]],
    [
      'duplicate policy name in a package',
      (f) => f.catalogs[0].accessPackages[0].policies.push({ name: 'Team', requestors: { scope: 'none' } }),
      [{ path: 'catalogs[0].accessPackages[0].policies[1].name', message: 'duplicate policy name Team (also policies[0])' }],
    ],
    [
      'duplicate question key in a policy',
      (f) => pol(f).questions.push({ key: 'ticket', text: 'Again?', type: 'longText' }),
      [{ path: `${POL}.questions[2].key`, message: 'duplicate question key ticket (also questions[0])' }],
    ],
    [
      'no approval stages',
      (f) => (pol(f).approval.stages = []),
      [{ path: `${POL}.approval.stages`, message: 'an approval has 1 to 3 stages (this one has 0); for no approval write "approval": null' }],
    ],
    [
      'four approval stages',
      (f) => pol(f).approval.stages.push({ approvers: [{ type: 'sponsor' }] }, { approvers: [{ type: 'sponsor' }] }),
      [{ path: `${POL}.approval.stages`, message: 'an approval has 1 to 3 stages (this one has 4); for no approval write "approval": null' }],
    ],
    ['a stage without approvers', (f) => (pol(f).approval.stages[1].approvers = []), [{ path: `${POL}.approval.stages[1].approvers`, message: 'a stage needs at least one approver' }]],
    [
      'the manager in two stages',
      (f) => pol(f).approval.stages[1].approvers.push({ type: 'manager' }),
      [{ path: `${POL}.approval.stages[1].approvers[1]`, message: 'the manager can approve in one stage only (already in stages[0])' }],
    ],
    [
      'a manager as fallback approver',
      (f) => (pol(f).approval.stages[0].fallbackApprovers = [{ type: 'manager' }]),
      [{ path: `${POL}.approval.stages[0].fallbackApprovers[0]`, message: 'fallback approvers must be users or groups' }],
    ],
    [
      'escalation with a timeout under 4 days',
      (f) => {
        pol(f).approval.stages[1].timeoutDays = 3;
        pol(f).approval.stages[1].escalation.afterDays = 2;
      },
      [{ path: `${POL}.approval.stages[1].escalation`, message: 'escalation needs a stage timeoutDays of at least 4 (this stage has 3)' }],
    ],
    [
      'escalation not before the timeout',
      (f) => (pol(f).approval.stages[1].escalation.afterDays = 7),
      [{ path: `${POL}.approval.stages[1].escalation.afterDays`, message: "must be less than the stage's timeoutDays (7)" }],
    ],
    [
      'invalid regular expression',
      (f) => (pol(f).questions[0].pattern = '^(T-[0-9]+$'),
      [{ path: `${POL}.questions[0].pattern`, message: expect.stringMatching(/^not a valid regular expression: /) as unknown as string }],
    ],
    ['multipleChoice without choices', (f) => delete pol(f).questions[1].choices, [{ path: `${POL}.questions[1].choices`, message: 'a multipleChoice field needs at least one choice' }]],
    [
      'choices on a text question',
      (f) => (pol(f).questions[0].choices = ['x']),
      [{ path: `${POL}.questions[0].choices`, message: 'only multipleChoice fields have choices (this one is shortText)' }],
    ],
    ['expiration afterDays over 3660', (f) => (pol(f).expiration = { afterDays: 4000 }), [{ path: `${POL}.expiration.afterDays`, message: 'must be between 0 and 3660 days' }]],
    ['expiration afterDays negative', (f) => (pol(f).expiration = { afterDays: -1 }), [{ path: `${POL}.expiration.afterDays`, message: 'must be between 0 and 3660 days' }]],
    [
      'two expirations',
      (f) => (pol(f).expiration = { afterDays: 3, never: true }),
      [{ path: `${POL}.expiration`, message: 'give exactly one of afterDays, afterHours, onDate or "never": true (found afterDays, never)' }],
    ],
    [
      'bad date',
      (f) => (f.assignments[0].start = '2027-02-30'),
      [{ path: 'assignments[0].start', message: 'expected an ISO 8601 date (2027-06-30 or 2027-06-30T17:00:00Z) or now, now-7d, now+30d, now+8h' }],
    ],
    ['assignment ending before it starts', (f) => (f.assignments[0].end = 'now-2d'), [{ path: 'assignments[0].end', message: 'must be after start (2026-11-23T10:00:00.000Z)' }]],
    [
      'duplicate assignment',
      (f) => f.assignments.push({ ...f.assignments[0] }),
      [{ path: 'assignments[1]', message: 'duplicate assignment of this access package to ann@example.org (also assignments[0])' }],
    ],
    [
      'holding two incompatible packages',
      (f) => f.assignments.push({ user: 'ann@example.org', accessPackage: P2, policy: 'All' }),
      [{ path: 'assignments[0]', message: `ann@example.org also holds access package ${P2} (assignments[1]), which this access package is incompatible with` }],
    ],
    ['password and passwordHash both', (f) => (f.users[0].passwordHash = 'x'), [{ path: 'users[0]', message: 'give either password or passwordHash, not both' }]],
    [
      'passwordHash not in our format',
      (f) => {
        delete f.users[0].password;
        f.users[0].passwordHash = '$2b$10$abcdefghijklmnopqrstuv';
      },
      [{ path: 'users[0].passwordHash', message: 'not a Portico password hash (scrypt$N$r$p$salt$key); give a plain password instead' }],
    ],
    ['signIn with neither', (f) => (f.directory.signIn = {}), [{ path: 'directory.signIn', message: 'give exactly one of "password": true or "oidc"' }]],
    [
      'signIn with both',
      (f) => (f.directory.signIn = { password: true, oidc: { issuer: 'https://idp.example.org', clientId: 'portico', clientSecretEnv: 'OIDC_SECRET' } }),
      [{ path: 'directory.signIn', message: 'give exactly one of "password": true or "oidc"' }],
    ],
  ];

  it.each(cases)('%s', (_name, mutate, expected) => {
    expect(problemsOf(mutate)).toEqual(expected);
  });

  it('accepts a passwordHash in our format and an OIDC directory', async () => {
    const hash = await hashPassword('secret');
    expect(
      problemsOf((f) => {
        delete f.users[0].password;
        f.users[0].passwordHash = hash;
        f.directory.signIn = { oidc: { issuer: 'https://idp.example.org', clientId: 'portico', clientSecretEnv: 'OIDC_SECRET' } };
      }),
    ).toEqual([]);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf((f) => {
      f.users[1].manager = 'nobody@example.org';
      f.groups.push({ key: 'team', name: 'Again' });
      pol(f).approval.stages[1].approvers = [];
      f.assignments[0].policy = 'Other';
    });
    expect(problems.map((p) => p.path)).toEqual(['users[1].manager', 'groups[1].key', `${POL}.approval.stages[1].approvers`, 'assignments[0].policy']);
  });
});
