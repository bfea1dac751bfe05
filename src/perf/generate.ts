import { gcd, mix32, prng, uuidFor } from './random.ts';
import type { Row, Sink, TableName } from './tables.ts';

/**
 * A realistic directory at a chosen scale, written row by row into a Sink (the database loader or
 * the directory-file writer). Deterministic: the same scale, seed and `now` give the same rows.
 *
 * Shape: a management tree (8 reports per manager), departments and teams as groups, approver
 * groups, catalogs owned by managers with three resources each, packages bundling 1–3 resource
 * roles under 1–2 policies (no approval, one stage, two stages with escalation, questions and
 * requestor attributes), requests in every state with their stages, approvers, decisions and audit
 * history, assignments (from requests, administrators and imports; live, scheduled and expired)
 * with their grants, and access reviews with instances, items, reviewers and decisions.
 */

export interface Scale {
  name: string;
  users: number;
  groups: number;
  catalogs: number;
  packages: number;
  policies: number;
  assignments: number;
  requests: number;
  reviews: number;
}

const ENTRA: Scale = {
  name: 'entra',
  users: 100_000,
  groups: 2_000,
  catalogs: 7_500,
  packages: 20_000,
  policies: 25_000,
  assignments: 300_000,
  requests: 200_000,
  reviews: 300,
};

export const SCALES: Record<string, Scale> = {
  /** The largest tenant Entra entitlement management allows. */
  entra: ENTRA,
  /** Five times Entra's assignments and requests over the same directory. */
  '5x': { ...ENTRA, name: '5x', assignments: 5 * ENTRA.assignments, requests: 5 * ENTRA.requests },
  /** One fiftieth of entra: a directory file that the importer loads in seconds. */
  small: { name: 'small', users: 2_000, groups: 80, catalogs: 150, packages: 400, policies: 500, assignments: 6_000, requests: 4_000, reviews: 12 },
  /** For tests. */
  tiny: { name: 'tiny', users: 240, groups: 30, catalogs: 16, packages: 40, policies: 50, assignments: 500, requests: 400, reviews: 4 },
};

export interface GenerateOptions {
  scale: Scale;
  /** The moment the data is relative to (requests in the last 90 days, deadlines ahead of it). */
  now: Date;
  /** One scrypt hash, shared by every user (hashing 100,000 passwords would take an hour). */
  passwordHash: string;
  seed?: number;
  hint?: string;
  directoryName?: string;
}

export interface GenerateResult {
  directoryId: string;
  hint: string;
  domain: string;
  /** Rows written per table. */
  counts: Record<string, number>;
}

// Object kinds, for ids.
const K = {
  directory: 1, user: 2, group: 3, catalog: 4, resource: 5, role: 6, pkg: 7, policy: 8, pstage: 9, request: 10, rstage: 11,
  assignment: 12, review: 13, instance: 14, item: 15,
} as const;

const FIRST = ['Ada', 'Ben', 'Carla', 'Dev', 'Elena', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas', 'Keiko', 'Liam', 'Maya', 'Noah', 'Olga', 'Priya', 'Quinn', 'Rita', 'Sam', 'Tariq', 'Uma', 'Victor', 'Wen', 'Xavier', 'Yara', 'Zoe', 'Amir', 'Bea', 'Chen', 'Dana', 'Emil', 'Fiona', 'Gus', 'Hana', 'Ivan', 'Jade', 'Kofi', 'Lena', 'Mateo', 'Nina', 'Omar', 'Paula', 'Rosa', 'Sofia', 'Tom', 'Ulla', 'Vera', 'Will', 'Yusuf', 'Zara'];
const LAST = ['Adams', 'Baker', 'Costa', 'Dubois', 'Evans', 'Fischer', 'Garcia', 'Hansen', 'Ito', 'Jensen', 'Kowalski', 'Larsen', 'Meyer', 'Nakamura', 'Okafor', 'Petrov', 'Quintero', 'Rossi', 'Schmidt', 'Tanaka', 'Ueda', 'Varga', 'Weber', 'Xu', 'Yilmaz', 'Zimmer', 'Andersen', 'Berg', 'Novak', 'Silva', 'Moreau', 'Haddad', 'Kim', 'Lopez', 'Murphy', 'Nowak', 'Olsen', 'Park', 'Reyes', 'Santos'];
const DEPARTMENTS = ['Executive', 'Engineering', 'Finance', 'Sales', 'Marketing', 'Human Resources', 'Legal', 'Operations', 'Support', 'Security', 'IT', 'Research', 'Procurement', 'Facilities', 'Product', 'Design', 'Data', 'Customer Success', 'Compliance', 'Logistics'];
const TITLES = ['Engineer', 'Analyst', 'Manager', 'Specialist', 'Coordinator', 'Consultant', 'Administrator', 'Architect', 'Associate', 'Director'];
const NOUNS = ['Payroll', 'CRM', 'Wiki', 'Source code', 'Ticketing', 'Expenses', 'Analytics', 'Warehouse', 'Billing', 'Recruiting', 'Contracts', 'Design system', 'Data lake', 'Monitoring', 'Incident response', 'Build servers', 'Customer portal', 'Partner portal', 'Travel', 'Procurement', 'Treasury', 'Reporting', 'Forecasting', 'Inventory', 'Shipping', 'Training', 'Compliance vault', 'Audit trail', 'Marketing site', 'Campaigns', 'Knowledge base', 'Chat', 'Video meetings', 'File shares', 'Print services', 'VPN', 'Cloud console', 'Kubernetes', 'Databases', 'Backups', 'Identity admin', 'Mobile devices', 'Laptops', 'Badge access', 'Research lab', 'Legal hold', 'Board documents', 'Investor relations', 'Benefits', 'Timesheets', 'Roadmaps', 'Feature flags', 'Release pipeline', 'Test environments', 'Sandbox', 'Sales forecasts', 'Price lists', 'Quotes', 'Support queue', 'Field service'];
const QUALIFIERS = ['EMEA', 'Americas', 'APAC', 'Production', 'Staging', 'Global', 'North', 'South', 'Nordics', 'DACH', 'UK', 'France', 'Iberia', 'Benelux', 'Japan', 'India', 'Brazil', 'Canada', 'Australia', 'Head office'];
const ROLE_WORDS = ['readers', 'editors', 'owners', 'contributors', 'approvers', 'operators', 'administrators', 'viewers'];
const AREAS = ['Engineering', 'Finance', 'Sales', 'Marketing', 'People', 'Legal', 'Operations', 'Support', 'Security', 'IT', 'Research', 'Procurement', 'Product', 'Data', 'Compliance'];
const VERBS = ['Read', 'Edit', 'Manage', 'Approve changes to', 'Operate', 'Administer', 'Report on', 'Contribute to'];

const DAY = 86_400_000;
const HOUR = 3_600_000;

type Category = 'none' | 'simple' | 'justify' | 'oneStage' | 'twoStage';

interface ApproverRule {
  role: 'primary' | 'fallback' | 'escalation';
  type: 'manager' | 'user' | 'group';
  user?: number;
  group?: number;
}

interface StageDef {
  position: number;
  timeoutDays: number;
  requireJustification: boolean;
  escalationAfterDays: number | null;
  approvers: ApproverRule[];
}

interface PolicyDef {
  index: number;
  pkg: number;
  position: number;
  name: string;
  scope: 'specific' | 'allMembers' | 'allUsers' | 'none';
  groups: number[];
  requireJustification: boolean;
  questions: unknown[];
  attributes: unknown[];
  expiration: { kind: 'afterDays'; days: number } | { kind: 'afterHours'; hours: number } | { kind: 'never' };
  customPeriod: boolean;
  stages: StageDef[];
}

export async function generate(sink: Sink, options: GenerateOptions): Promise<GenerateResult> {
  const { scale, now: nowDate, passwordHash } = options;
  const seed = options.seed ?? 42;
  const rnd = prng(seed);
  const salt = mix32(seed * 2654435761);
  // Ids are asked for again and again (a user is an approver, a reviewer, a member...): each is built once.
  const ids = new Map<number, string[]>();
  const reused = new Set<number>([K.directory, K.user, K.group, K.catalog, K.resource, K.role, K.pkg, K.policy, K.pstage]);
  const id = (kind: number, i: number) => {
    if (!reused.has(kind)) return uuidFor(kind, i, salt);
    let list = ids.get(kind);
    if (!list) ids.set(kind, (list = []));
    return (list[i] ??= uuidFor(kind, i, salt));
  };
  const now = nowDate.getTime();
  /** Moments are written as epoch milliseconds; the sinks turn them into timestamps. */
  const iso = (ms: number) => ms;
  const hint = options.hint ?? 'contoso-scale.example';
  const domain = hint.includes('.') ? hint : `${hint}.example`;
  const directoryId = id(K.directory, 0);
  const counts: Record<string, number> = {};
  const addRow: Sink['add'] = (table, row) => {
    counts[table] = (counts[table] ?? 0) + 1;
    sink.add(table, row);
  };
  let add = addRow;
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)];
  const int = (n: number) => Math.floor(rnd() * n);

  // ---- people -------------------------------------------------------------------------------
  const U = scale.users;
  const guests = Math.max(1, Math.floor(U * 0.03));
  const M = U - guests; // members are 0..M-1, guests M..U-1
  const managersEnd = Math.max(2, Math.floor((M - 1) / 8) + 1); // users below this index manage someone
  const managerOf = (u: number) => (u === 0 || u >= M ? -1 : Math.floor((u - 1) / 8));
  const disabled = (u: number) => u >= managersEnd && u < M && u % 250 === 17;
  const userId = (u: number) => id(K.user, u);
  const first = (u: number) => FIRST[mix32(u + 11) % FIRST.length];
  const last = (u: number) => LAST[mix32(u + 1_000_003) % LAST.length];
  const userName = (u: number) => (u === 0 ? 'Ada Admin' : `${first(u)} ${last(u)}`);
  const email = (u: number) => (u === 0 ? `ada.admin@${domain}` : `${first(u)}.${last(u)}.${u}@${u >= M ? 'partner.' : ''}${domain}`.toLowerCase());
  const dept = new Uint8Array(U);
  for (let u = 1; u < M; u++) {
    let n = u;
    while (n > 72) n = managerOf(n);
    dept[u] = n <= 8 ? n : n % DEPARTMENTS.length;
  }
  const signInAgo = (u: number) => (mix32(u + 77) % 100 < 14 ? null : (mix32(u + 78) % 29) * DAY + (mix32(u + 79) % 24) * HOUR);

  // ---- groups: departments, approver groups, teams ------------------------------------------
  const D = DEPARTMENTS.length;
  const AG = Math.max(2, Math.min(200, Math.floor(scale.groups / 10)));
  const T = Math.max(1, scale.groups - D - AG);
  const deptGroup = (d: number) => d;
  const approverGroup = (a: number) => D + a;
  const teamGroup = (t: number) => D + AG + t;
  const groupId = (g: number) => id(K.group, g);
  const groupName = (g: number) =>
    g < D ? `${DEPARTMENTS[g]} department` : g < D + AG ? (g === D ? 'Service desk approvers' : `${AREAS[(g - D) % AREAS.length]} approvers ${g - D}`) : `Team ${g - D - AG + 1}`;
  const approverMembers: number[][] = [];
  for (let a = 0; a < AG; a++) {
    const members = new Set<number>();
    for (let k = 0; members.size < Math.min(8, managersEnd - 1) && k < 64; k++) members.add(1 + (mix32(a * 131 + k * 977) % (managersEnd - 1)));
    approverMembers.push([...members]);
  }

  // ---- catalogs, resources, packages, policies ------------------------------------------------
  const C = scale.catalogs;
  const P = scale.packages;
  const RES_PER_CATALOG = 3;
  const roleStart = new Int32Array(C * RES_PER_CATALOG + 1);
  const roleNames: string[][] = [];
  for (let r = 0, n = 0; r < C * RES_PER_CATALOG; r++) {
    const type = r % 3;
    const names = type === 0 ? ['Member', 'Owner'] : type === 1 ? ['User', 'Reader', 'Admin'].slice(0, 1 + (mix32(r) % 3)) : ['Visitor', 'Member'].slice(0, 1 + (mix32(r) % 2));
    roleNames.push(names);
    roleStart[r] = n;
    n += names.length;
    roleStart[r + 1] = n;
  }
  const roleId = (i: number) => id(K.role, i);
  /** A package's resources, and the role of each it gives. */
  const pkgResources = (k: number): number[] => {
    const c = k % C;
    return Array.from({ length: 1 + (k % 3) }, (_, t) => c * RES_PER_CATALOG + ((k + t) % RES_PER_CATALOG));
  };
  const pkgRoles = (k: number): number[] => pkgResources(k).map((r, t) => roleStart[r] + (mix32(k + t) % roleNames[r].length));
  const resourceNames: string[] = [];
  const pkgId = (k: number) => id(K.pkg, k);
  const pkgName = (k: number) => `${NOUNS[mix32(k + 5) % NOUNS.length]} ${QUALIFIERS[mix32(k + 6) % QUALIFIERS.length]} ${ROLE_WORDS[mix32(k + 7) % ROLE_WORDS.length]}`;
  const category = (k: number): Category => {
    if (k % 50 === 0) return 'none';
    const m = k % 20;
    return m <= 5 ? 'simple' : m <= 7 ? 'justify' : m <= 15 ? 'oneStage' : 'twoStage';
  };
  const hidden = (k: number) => k % 100 === 1;
  const catalogEnabled = (c: number) => c % 50 !== 49;
  const needsApproval = (k: number) => category(k) === 'oneStage' || category(k) === 'twoStage';
  const requestable = (k: number) => category(k) !== 'none' && catalogEnabled(k % C);
  const secondPolicy = (k: number) => k % 4 === 0 && P + k / 4 < scale.policies;
  const ticketQuestion = { key: 'ticket', text: 'Which ticket is this for?', type: 'shortText', required: true, pattern: '^[A-Z]+-[0-9]+$', patternHint: 'A ticket key such as OPS-12' };
  const useQuestion = { key: 'use', text: 'What will you use it for?', type: 'multipleChoice', choices: ['Daily work', 'A project', 'Covering for a colleague'], required: false };

  const policyOf = (k: number, position: 0 | 1): PolicyDef => {
    const cat = category(k);
    const m = k % 20;
    if (position === 1) {
      const g = approverGroup(k % AG);
      return {
        index: P + k / 4, pkg: k, position: 1, name: 'Contractors: 30 days with approval', scope: 'specific', groups: [deptGroup(k % D)],
        requireJustification: true, questions: [], attributes: [], expiration: { kind: 'afterDays', days: 30 }, customPeriod: true,
        stages: [{ position: 1, timeoutDays: 14, requireJustification: false, escalationAfterDays: null, approvers: [{ role: 'primary', type: 'group', group: g }] }],
      };
    }
    const scope = cat === 'none' ? 'none' : k % 100 === 3 ? 'allUsers' : m === 14 || m === 15 ? 'specific' : 'allMembers';
    const groups = scope === 'specific' ? [deptGroup(k % D), teamGroup(k % T)] : [];
    const base = { index: k, pkg: k, position: 0, scope, groups, questions: [] as unknown[], attributes: [] as unknown[], customPeriod: false, requireJustification: false } as const;
    const fallbackGroup = approverGroup(k % AG);
    switch (cat) {
      case 'none':
        return { ...base, name: 'Assigned by administrators', expiration: { kind: 'never' }, stages: [] };
      case 'simple':
        return { ...base, name: 'Employees: no approval', expiration: { kind: 'afterDays', days: [30, 90, 180, 365][k % 4] }, stages: [] };
      case 'justify':
        return {
          ...base, name: 'Employees: short-term, no approval', requireJustification: true, questions: [ticketQuestion, useQuestion],
          expiration: k % 2 ? { kind: 'afterHours', hours: 8 } : { kind: 'afterDays', days: 30 }, stages: [],
        };
      case 'oneStage': {
        const primary: ApproverRule = m === 13 ? { role: 'primary', type: 'group', group: approverGroup(0) } : k % 7 === 0 ? { role: 'primary', type: 'group', group: fallbackGroup } : { role: 'primary', type: 'manager' };
        return {
          ...base, name: 'Employees: manager approval', questions: k % 3 === 0 ? [ticketQuestion] : [],
          attributes: k % 10 === 9 ? [{ attribute: 'costCenter', label: 'Cost center', type: 'shortText', required: true, editable: false }] : [],
          expiration: { kind: 'afterDays', days: k % 2 ? 90 : 365 }, customPeriod: k % 5 === 0,
          stages: [{
            position: 1, timeoutDays: 14, requireJustification: k % 9 === 0, escalationAfterDays: null,
            approvers: primary.type === 'manager' ? [primary, { role: 'fallback', type: 'group', group: fallbackGroup }] : [primary],
          }],
        };
      }
      case 'twoStage': {
        const g2 = k % 5 === 0 ? approverGroup(0) : fallbackGroup;
        const escalate = k % 3 === 0;
        return {
          ...base, name: 'Employees: manager and owner approval', requireJustification: true,
          expiration: { kind: 'afterDays', days: [7, 30, 90][k % 3] },
          stages: [
            { position: 1, timeoutDays: 7, requireJustification: false, escalationAfterDays: null, approvers: [{ role: 'primary', type: 'manager' }, { role: 'fallback', type: 'group', group: fallbackGroup }] },
            {
              position: 2, timeoutDays: 14, requireJustification: k % 4 === 0, escalationAfterDays: escalate ? 7 : null,
              approvers: [{ role: 'primary', type: 'group', group: g2 }, ...(escalate ? [{ role: 'escalation', type: 'user', user: 1 + (k % 8) } as ApproverRule] : [])],
            },
          ],
        };
      }
    }
  };
  const policyId = (q: number) => id(K.policy, q);
  const stageIdOf = (q: number, position: number) => id(K.pstage, q * 4 + position);
  const expirationJson = (p: PolicyDef) => (p.expiration.kind === 'afterDays' ? { kind: 'afterDays', days: p.expiration.days } : p.expiration.kind === 'afterHours' ? { kind: 'afterHours', hours: p.expiration.hours } : { kind: 'never' });
  const approverRulesJson = (s: StageDef) =>
    s.approvers.map((a) => ({
      role: a.role, type: a.type, userId: a.type === 'user' ? userId(a.user!) : null, groupId: a.type === 'group' ? groupId(a.group!) : null,
      name: a.type === 'user' ? userName(a.user!) : a.type === 'group' ? groupName(a.group!) : null,
    }));
  const durationMs = (p: PolicyDef) => (p.expiration.kind === 'afterDays' ? p.expiration.days * DAY : p.expiration.kind === 'afterHours' ? p.expiration.hours * HOUR : null);

  // ==== write the directory ====================================================================
  add('directories', { id: directoryId, hint, name: options.directoryName ?? 'Contoso at scale', sign_in: { password: true } });
  for (let u = 0; u < U; u++) {
    const d = dept[u];
    const ago = signInAgo(u);
    const attributes: Record<string, string> = { department: u >= M ? 'Partner' : DEPARTMENTS[d], jobTitle: u === 0 ? 'Administrator' : `${u < managersEnd ? 'Lead ' : ''}${TITLES[mix32(u + 3) % TITLES.length]}` };
    if (u < M && mix32(u + 4) % 10 < 8) attributes.costCenter = `CC-${1000 + (d * 37 + (mix32(u) % 30))}`;
    add('users', {
      id: userId(u), directory_id: directoryId, email: email(u), display_name: userName(u), password_hash: passwordHash, type: u >= M ? 'guest' : 'member',
      manager_id: managerOf(u) >= 0 ? userId(managerOf(u)) : null, attributes, is_admin: u === 0,
      last_sign_in_at: ago === null ? (u % 3 ? iso(now - (40 + (u % 300)) * DAY) : null) : iso(now - ago), disabled_at: disabled(u) ? iso(now - (u % 90) * DAY - DAY) : null,
    });
    if (u >= M) add('user_sponsors', { user_id: userId(u), sponsor_id: userId(1 + (mix32(u) % (managersEnd - 1))) });
    if (u % 5000 === 0) await sink.drain();
  }
  for (let g = 0; g < D + AG + T; g++) add('groups', { id: groupId(g), directory_id: directoryId, key: `group-${g}`, name: groupName(g) });
  for (let u = 0; u < M; u++) {
    add('group_members', { group_id: groupId(deptGroup(dept[u])), user_id: userId(u) });
    add('group_members', { group_id: groupId(teamGroup(u % T)), user_id: userId(u) });
    if (u % 5000 === 0) await sink.drain();
  }
  for (let a = 0; a < AG; a++) for (const u of approverMembers[a]) add('group_members', { group_id: groupId(approverGroup(a)), user_id: userId(u) });
  await sink.drain();

  for (let c = 0; c < C; c++) {
    const area = AREAS[c % AREAS.length];
    const catalogId = id(K.catalog, c);
    add('catalogs', { id: catalogId, directory_id: directoryId, name: `${area} ${Math.floor(c / AREAS.length) + 1}`, description: `${area} resources for ${QUALIFIERS[c % QUALIFIERS.length]}.`, enabled: catalogEnabled(c) });
    const owner = 1 + (mix32(c + 101) % (managersEnd - 1));
    add('catalog_owners', { catalog_id: catalogId, user_id: userId(owner) });
    if (c % 3 === 0) {
      const second = 1 + (mix32(c + 102) % (managersEnd - 1));
      if (second !== owner) add('catalog_owners', { catalog_id: catalogId, user_id: userId(second) });
    }
    for (let j = 0; j < RES_PER_CATALOG; j++) {
      const r = c * RES_PER_CATALOG + j;
      const type = (['group', 'application', 'site'] as const)[j];
      const noun = NOUNS[mix32(r + 9) % NOUNS.length];
      const name = `${noun} ${QUALIFIERS[mix32(r + 10) % QUALIFIERS.length]} ${type === 'group' ? 'team' : type === 'site' ? 'site' : 'app'}`;
      resourceNames[r] = name;
      add('resources', {
        id: id(K.resource, r), directory_id: directoryId, catalog_id: catalogId, key: `res-${r}`, type, name, description: `${noun} for ${area}.`,
        url: type === 'group' ? null : `https://${noun.toLowerCase().replaceAll(' ', '-')}-${r}.${domain}/`,
      });
      roleNames[r].forEach((roleName, position) => add('resource_roles', { id: roleId(roleStart[r] + position), resource_id: id(K.resource, r), name: roleName, position }));
    }
    if (c % 2000 === 0) await sink.drain();
  }

  for (let k = 0; k < P; k++) {
    const c = k % C;
    const noun = NOUNS[mix32(k + 5) % NOUNS.length];
    const description = `${VERBS[mix32(k + 8) % VERBS.length]} ${noun.toLowerCase()} for ${DEPARTMENTS[mix32(k + 12) % D].toLowerCase()} in ${QUALIFIERS[mix32(k + 13) % QUALIFIERS.length]}.`;
    add('access_packages', {
      id: pkgId(k), directory_id: directoryId, catalog_id: id(K.catalog, c), name: pkgName(k), description, hidden: hidden(k),
      // What the access_packages_search_text trigger would write (triggers are off while loading).
      search_text: [pkgName(k), description, ...pkgResources(k).map((r) => resourceNames[r]).sort()].map((t) => t.toLowerCase()).join('\n'),
    });
    for (const role of pkgRoles(k)) add('access_package_resource_roles', { access_package_id: pkgId(k), resource_role_id: roleId(role) });
    if (k % 97 === 1 && k + 1 < P) {
      add('access_package_incompatibles', { access_package_id: pkgId(k), incompatible_id: pkgId(k + 1) });
      add('access_package_incompatibles', { access_package_id: pkgId(k + 1), incompatible_id: pkgId(k) });
    }
    for (const position of secondPolicy(k) ? ([0, 1] as const) : ([0] as const)) {
      const p = policyOf(k, position);
      add('policies', {
        id: policyId(p.index), access_package_id: pkgId(k), name: p.name, description: p.stages.length ? `${p.stages.length} approval stage${p.stages.length > 1 ? 's' : ''}.` : 'Delivered at once.',
        position, requestor_scope: p.scope, accept_requests: true, require_justification: p.requireJustification, questions: p.questions,
        requestor_attributes: p.attributes, expiration_kind: p.expiration.kind,
        expiration_days: p.expiration.kind === 'afterDays' ? p.expiration.days : null, expiration_hours: p.expiration.kind === 'afterHours' ? p.expiration.hours : null,
        allow_custom_period: p.customPeriod,
      });
      for (const g of p.groups) add('policy_requestors', { policy_id: policyId(p.index), group_id: groupId(g), user_id: null });
      for (const s of p.stages) {
        add('policy_stages', {
          id: stageIdOf(p.index, s.position), policy_id: policyId(p.index), position: s.position, timeout_days: s.timeoutDays,
          require_approver_justification: s.requireJustification, escalation_after_days: s.escalationAfterDays,
        });
        s.approvers.forEach((a, position) =>
          add('policy_stage_approvers', {
            stage_id: stageIdOf(p.index, s.position), role: a.role, type: a.type, user_id: a.type === 'user' ? userId(a.user!) : null,
            group_id: a.type === 'group' ? groupId(a.group!) : null, position,
          }),
        );
      }
    }
    if (k % 2000 === 0) await sink.drain();
  }
  await sink.flush();

  // ==== activity: requests, stages, assignments, grants, audit ==================================
  // Live access and open requests are unique per person and package: each person walks their own
  // permutation of the packages for those, so no pair is used twice.
  const step = [7919, 7927, 7933, 7937, 7949].find((s) => gcd(s, P) === 1) ?? 1;
  const liveNext = new Int32Array(U);
  const livePackage = (u: number, wanted: (k: number) => boolean): number => {
    const base = mix32(u + 99) % P;
    while (liveNext[u] < P) {
      const k = (base + liveNext[u]++ * step) % P;
      if (wanted(k)) return k;
    }
    return -1;
  };
  const randomPackage = (wanted: (k: number) => boolean): number => {
    for (;;) {
      const k = int(P);
      if (wanted(k)) return k;
    }
  };
  // Requestors: skewed, so some people have long histories (managers, at low indices, the longest).
  const requestor = (): number => {
    for (;;) {
      const u = Math.floor(M * rnd() ** 2);
      if (!disabled(u)) return u;
    }
  };
  const approverFor = (rule: ApproverRule, u: number): number[] => {
    if (rule.type === 'manager') return managerOf(u) >= 0 ? [managerOf(u)] : [];
    if (rule.type === 'user') return rule.user === u ? [] : [rule.user!];
    return approverMembers[rule.group! - D].filter((m) => m !== u);
  };
  /** Who decides a stage for requestor u: primary approvers, or the fallback when there are none. */
  const resolveStage = (s: StageDef, u: number): { users: number[]; kind: 'primary' | 'fallback' } => {
    const primary = s.approvers.filter((a) => a.role === 'primary').flatMap((a) => approverFor(a, u));
    if (primary.length) return { users: [...new Set(primary)], kind: 'primary' };
    return { users: [...new Set(s.approvers.filter((a) => a.role === 'fallback').flatMap((a) => approverFor(a, u)))], kind: 'fallback' };
  };
  const audit = (at: number, actor: number | null, action: string, targetType: string, targetId: string, details: Record<string, unknown>) =>
    add('audit_log', {
      directory_id: directoryId, at: iso(at), actor_id: actor === null ? null : userId(actor), actor_label: actor === null ? 'lifecycle' : email(actor),
      action, target_type: targetType, target_id: targetId, details,
    });

  // Reviews of access packages collect the live assignments of their packages as they are written.
  const reviewKinds = Array.from({ length: scale.reviews }, (_, j) => (j === 0 ? 'group' : j % 10 <= 5 ? 'accessPackage' : j % 10 <= 8 ? 'group' : 'resource'));
  const reviewedPackages = new Map<number, { assignment: string; user: number; since: number }[]>();
  reviewKinds.forEach((kind, j) => {
    if (kind === 'accessPackage') reviewedPackages.set((mix32(j + 555) % P) | 0, []);
  });

  let assignmentCount = 0;
  const writeAssignment = (a: { pkg: number; policy: number; user: number; request: string | null; origin: 'request' | 'admin' | 'import'; startsAt: number; endsAt: number | null; createdAt: number }, add: Sink['add'] = addRow) => {
    const index = assignmentCount++;
    const assignmentId = id(K.assignment, index);
    const state = a.startsAt > now ? 'scheduled' : a.endsAt !== null && a.endsAt <= now ? 'expired' : 'delivered';
    add('assignments', {
      id: assignmentId, directory_id: directoryId, access_package_id: pkgId(a.pkg), policy_id: policyId(a.policy), user_id: userId(a.user), request_id: a.request,
      origin: a.origin, state, starts_at: iso(a.startsAt), ends_at: a.endsAt === null ? null : iso(a.endsAt), ended_at: state === 'expired' ? iso(a.endsAt!) : null,
      end_reason: state === 'expired' ? 'expired' : null, created_at: iso(a.createdAt), updated_at: iso(state === 'expired' ? a.endsAt! : a.createdAt),
    });
    if (state !== 'scheduled') {
      for (const role of pkgRoles(a.pkg)) {
        add('assignment_grants', { assignment_id: assignmentId, resource_role_id: roleId(role), granted_at: iso(a.startsAt), revoked_at: state === 'expired' ? iso(a.endsAt!) : null });
      }
    }
    if (state === 'delivered') reviewedPackages.get(a.pkg)?.push({ assignment: assignmentId, user: a.user, since: a.startsAt });
    return { id: assignmentId, state };
  };

  let stageCount = 0;
  const R = scale.requests;
  for (let i = 0; i < R; i++) {
    const roll = rnd();
    const state =
      roll < 0.2 ? 'deliveredDirect' : roll < 0.48 ? 'delivered' : roll < 0.5 ? 'scheduled' : roll < 0.62 ? 'pendingApproval' : roll < 0.77 ? 'denied' : roll < 0.89 ? 'expired' : roll < 0.99 ? 'canceled' : 'deliveryFailed';
    const u = requestor();
    const approval = state !== 'deliveredDirect' && state !== 'deliveryFailed' && (state !== 'scheduled' || i % 2 === 0);
    const fits = (k: number) => requestable(k) && needsApproval(k) === approval;
    const live = state === 'pendingApproval' || state === 'delivered' || state === 'deliveredDirect' || state === 'scheduled';
    let k = live ? livePackage(u, fits) : randomPackage(fits);
    let finalState: string = state;
    if (k < 0) {
      // This person already uses every package of that kind: an old, denied request instead.
      finalState = approval ? 'denied' : 'deliveryFailed';
      k = randomPackage(fits);
    }
    const policy = policyOf(k, secondPolicy(k) && i % 5 === 0 ? 1 : 0);
    // The request row must be written before its stages and assignment: those wait here.
    const deferred: [TableName, Row<TableName>][] = [];
    add = (table, row) => void deferred.push([table, row]);
    if (policy.stages.length === 0 && approval) throw new Error('generator: approval request on a policy without stages');
    const requestId = id(K.request, i);
    // When it was submitted, and how far its stages got.
    const timeout1 = policy.stages[0]?.timeoutDays ?? 14;
    let submitted: number;
    if (finalState === 'pendingApproval') submitted = now - rnd() * (timeout1 - 0.5) * DAY;
    else if (finalState === 'expired') submitted = now - (timeout1 + rnd() * (90 - timeout1 - 14)) * DAY - (policy.stages.length > 1 ? 14 * DAY : 0);
    else if (finalState === 'scheduled') submitted = now - rnd() * 6 * DAY;
    else submitted = now - (1 + rnd() * 88) * DAY;
    submitted = Math.floor(submitted / 1000) * 1000;
    let t = submitted;
    let currentStage: number | null = null;
    let completed: number | null = null;
    const events: { at: number; actor: number | null; action: string; details: Record<string, unknown> }[] = [
      { at: submitted, actor: u, action: 'request.submitted', details: { accessPackageId: pkgId(k), packageName: pkgName(k), policyName: policy.name, resubmits: null } },
    ];
    // The stage where it stops: pending, denied, expired or canceled there; every stage approved otherwise.
    const stops = policy.stages.length ? (finalState === 'pendingApproval' || finalState === 'denied' || finalState === 'expired' || finalState === 'canceled' ? 1 + int(policy.stages.length) : 0) : 0;
    for (const s of policy.stages) {
      const stageId = id(K.rstage, stageCount++);
      const reached = stops === 0 || s.position <= stops;
      const { users, kind } = resolveStage(s, u);
      let stageState = 'waiting';
      let started: number | null = null;
      let decidedAt: number | null = null;
      let decidedBy: number | null = null;
      let decision: string | null = null;
      let justification: string | null = null;
      let escalated = false;
      if (reached) {
        started = t;
        currentStage = s.position;
        const isStop = s.position === stops;
        if (finalState === 'pendingApproval' && isStop) {
          stageState = 'pending';
          if (s.position > 1 && started + s.timeoutDays * DAY <= now) started = now - rnd() * (s.timeoutDays - 1) * DAY;
        } else if (finalState === 'expired' && isStop) {
          stageState = 'expired';
          completed = started + s.timeoutDays * DAY;
          events.push({ at: completed, actor: null, action: 'request.expired', details: { stage: s.position } });
        } else if (finalState === 'canceled' && isStop) {
          stageState = 'canceled';
          completed = Math.min(started + rnd() * 2 * DAY, now - 60_000);
          events.push({ at: completed, actor: u, action: 'request.canceled', details: { packageName: pkgName(k) } });
        } else {
          decidedAt = Math.min(started + (0.05 + rnd() * 2.5) * DAY, now - 60_000);
          decidedBy = users.length ? users[int(users.length)] : 0;
          decision = finalState === 'denied' && isStop ? 'deny' : 'approve';
          stageState = decision === 'deny' ? 'denied' : 'approved';
          justification = s.requireJustification || rnd() < 0.3 ? (decision === 'deny' ? 'Not needed for this role.' : 'Approved for the current project.') : null;
          events.push({ at: decidedAt, actor: decidedBy, action: decision === 'deny' ? 'request.denied' : 'request.stageApproved', details: { stage: s.position, justification } });
          t = decidedAt;
          if (decision === 'deny') completed = decidedAt;
        }
        escalated = s.escalationAfterDays !== null && (decidedAt ?? completed ?? now) > started + s.escalationAfterDays * DAY;
      } else if (finalState !== 'pendingApproval') {
        stageState = 'canceled';
      }
      const dueAt = started === null ? null : started + s.timeoutDays * DAY;
      const escalateAt = started === null || s.escalationAfterDays === null ? null : started + s.escalationAfterDays * DAY;
      // Reminded halfway to the deadline when still undecided then (stages without escalation).
      const remindAt = started === null || s.escalationAfterDays !== null ? null : started + (s.timeoutDays * DAY) / 2;
      const remindedAt = remindAt !== null && remindAt <= (decidedAt ?? completed ?? now) ? remindAt : null;
      add('request_stages', {
        id: stageId, request_id: requestId, position: s.position, state: stageState, timeout_days: s.timeoutDays, require_approver_justification: s.requireJustification,
        escalation_after_days: s.escalationAfterDays, approver_rules: approverRulesJson(s), started_at: started === null ? null : iso(started),
        due_at: dueAt === null ? null : iso(dueAt), escalate_at: escalateAt === null ? null : iso(escalateAt), decided_at: decidedAt === null ? null : iso(decidedAt),
        escalated_at: escalated && escalateAt !== null ? iso(escalateAt) : null, remind_at: remindAt === null ? null : iso(remindAt),
        reminded_at: remindedAt === null ? null : iso(remindedAt), decided_by_id: decidedBy === null ? null : userId(decidedBy), decision, justification,
      });
      if (started !== null) {
        const open = stageState === 'pending';
        for (const a of users) add('request_stage_approvers', { stage_id: stageId, user_id: userId(a), kind, open, due_at: iso(dueAt!) });
        if (escalated && stageState !== 'pending') {
          for (const a of s.approvers.filter((x) => x.role === 'escalation').flatMap((x) => approverFor(x, u))) {
            if (!users.includes(a)) add('request_stage_approvers', { stage_id: stageId, user_id: userId(a), kind: 'escalation', open: false, due_at: iso(dueAt!) });
          }
        }
      }
    }
    // Delivery.
    let requestedStart: number | null = null;
    if (finalState === 'delivered' || finalState === 'deliveredDirect' || finalState === 'scheduled') {
      completed = t + (policy.stages.length ? 60_000 : 1000);
      if (finalState === 'scheduled') requestedStart = Math.floor((now + (1 + rnd() * 20) * DAY) / DAY) * DAY;
      const startsAt = requestedStart ?? completed;
      const duration = durationMs(policy);
      const a = writeAssignment({ pkg: k, policy: policy.index, user: u, request: requestId, origin: 'request', startsAt, endsAt: duration === null ? null : startsAt + duration, createdAt: completed }, add);
      finalState = a.state === 'scheduled' ? 'scheduled' : 'delivered';
      events.push({ at: completed, actor: policy.stages.length ? null : u, action: finalState === 'scheduled' ? 'request.scheduled' : 'request.delivered', details: { startsAt: iso(startsAt), endsAt: duration === null ? null : iso(startsAt + duration) } });
    } else if (finalState === 'deliveryFailed') {
      completed = t + 1000;
      events.push({ at: completed, actor: u, action: 'request.deliveryFailed', details: { reason: 'Not delivered: the person already has this access package.' } });
    }
    const answers = policy.questions.length ? [{ key: 'ticket', text: 'Which ticket is this for?', answer: `OPS-${1 + (i % 9000)}` }] : [];
    add = addRow;
    add('requests', {
      id: requestId, directory_id: directoryId, access_package_id: pkgId(k), policy_id: policyId(policy.index), target_user_id: userId(u), requested_by_id: userId(u),
      type: 'userAdd', state: finalState, justification: policy.requireJustification ? `Needed for ${pick(['the quarterly close', 'an incident review', 'a customer project', 'on-call duty', 'a migration'])}.` : null,
      answers, requested_start: requestedStart === null ? null : iso(requestedStart), expiration: expirationJson(policy),
      resubmits_request_id: null, current_stage: currentStage, submitted_at: iso(submitted), completed_at: completed === null ? null : iso(completed),
      updated_at: iso(completed ?? t),
    });
    for (const [table, row] of deferred) add(table, row);
    for (const e of events) audit(e.at, e.actor, e.action, 'request', requestId, e.details);
    if (i % 2000 === 0) await sink.drain();
  }

  // Access assigned by administrators and imports, up to the scale's number of assignments.
  const adminAssignments = Math.max(0, scale.assignments - assignmentCount);
  for (let n = 0; n < adminAssignments; n++) {
    let u = int(M);
    if (disabled(u)) u = 1 + (u % (managersEnd - 1));
    const roll = rnd();
    const wanted = (k: number) => catalogEnabled(k % C) && (n % 5 === 0 ? category(k) === 'none' : true);
    const k = roll < 0.75 ? livePackage(u, wanted) : randomPackage(wanted);
    const pkg = k < 0 ? randomPackage(wanted) : k;
    // Most such access came with imports; one in twenty was assigned by an administrator, which,
    // as in the portal, leaves an adminAdd request behind it.
    const origin = n % 20 === 1 ? 'admin' : 'import';
    let startsAt: number;
    let endsAt: number | null;
    if (roll < 0.75 && k >= 0) {
      startsAt = now - (1 + rnd() * 400) * DAY;
      endsAt = rnd() < 0.4 ? null : now + (1 + rnd() * 364) * DAY;
      if (roll < 0.01) startsAt = now + (1 + rnd() * 30) * DAY; // scheduled
      if (endsAt !== null && endsAt <= startsAt) endsAt = startsAt + 30 * DAY;
    } else {
      endsAt = now - (1 + rnd() * 300) * DAY;
      startsAt = endsAt - (30 + rnd() * 300) * DAY;
    }
    startsAt = Math.floor(startsAt / 1000) * 1000;
    const createdAt = Math.min(startsAt, now);
    const end = endsAt === null ? null : Math.floor(endsAt / 1000) * 1000;
    let request: string | null = null;
    if (origin === 'admin') {
      request = id(K.request, R + n);
      const policy = policyOf(pkg, 0);
      add('requests', {
        id: request, directory_id: directoryId, access_package_id: pkgId(pkg), policy_id: policyId(pkg), target_user_id: userId(u), requested_by_id: userId(0),
        type: 'adminAdd', state: startsAt > now ? 'scheduled' : 'delivered', justification: 'Assigned by an administrator.', answers: [],
        requested_start: startsAt > now ? iso(startsAt) : null, expiration: expirationJson(policy), resubmits_request_id: null, current_stage: null,
        submitted_at: iso(createdAt), completed_at: iso(createdAt), updated_at: iso(createdAt),
      });
      audit(createdAt, 0, startsAt > now ? 'request.scheduled' : 'request.delivered', 'request', request, { startsAt: iso(startsAt), endsAt: end === null ? null : iso(end) });
    }
    writeAssignment({ pkg, policy: pkg, user: u, request, origin, startsAt, endsAt: end, createdAt });
    if (n % 2000 === 0) await sink.drain();
  }
  await sink.flush();

  // ==== access reviews ========================================================================
  let itemCount = 0;
  for (let j = 0; j < scale.reviews; j++) {
    const kind = reviewKinds[j];
    const reviewId = id(K.review, j);
    const reviewerType = j === 0 ? 'specific' : (['manager', 'manager', 'self', 'specific'] as const)[j % 4];
    const active = j === 0 || j % 10 < 7;
    const instanceStart = active ? Math.floor((now - (1 + rnd() * 6) * DAY) / DAY) * DAY : Math.floor((now - (30 + rnd() * 60) * DAY) / DAY) * DAY;
    const duration = 14;
    const pkg = kind === 'accessPackage' ? (mix32(j + 555) % P) | 0 : -1;
    const group = kind === 'group' ? (j === 0 ? deptGroup(0) : teamGroup(mix32(j + 556) % T)) : -1;
    const resource = kind === 'resource' ? mix32(j + 557) % (C * RES_PER_CATALOG) : -1;
    const specific = reviewerType === 'specific' ? (j === 0 ? [2] : [1 + (mix32(j + 558) % (managersEnd - 1))]) : reviewerType === 'manager' ? [1] : [];
    const review = {
      id: reviewId, directory_id: directoryId,
      name: j === 0 ? `${DEPARTMENTS[0]} department membership` : kind === 'accessPackage' ? `Quarterly review: ${pkgName(pkg)}` : kind === 'group' ? `${groupName(group)} membership` : `Users of resource ${resource}`,
      description: 'Confirm that each person still needs this access.', scope_type: kind,
      scope_access_package_id: pkg >= 0 ? pkgId(pkg) : null, scope_group_id: group >= 0 ? groupId(group) : null, scope_resource_id: resource >= 0 ? id(K.resource, resource) : null,
      reviewer_type: reviewerType, starts_on: iso(kind === 'resource' ? now + 30 * DAY : instanceStart), duration_days: duration,
      recurrence: kind === 'resource' ? 'once' : j % 3 === 0 ? 'quarterly' : 'once', if_no_response: (['noChange', 'removeAccess', 'takeRecommendations'] as const)[j % 3],
      auto_apply: j % 2 === 0, require_justification: j % 5 === 0, show_recommendations: j % 2 === 1 || j === 0,
    } as const;
    add('access_reviews', review);
    for (const r of specific) add('access_review_reviewers', { access_review_id: reviewId, user_id: userId(r) });
    if (kind === 'resource') continue; // starts later: no instance yet
    const instanceId = id(K.instance, j);
    add('access_review_instances', {
      id: instanceId, access_review_id: reviewId, starts_at: iso(instanceStart), ends_at: iso(instanceStart + duration * DAY), state: active ? 'active' : 'ended',
      ended_at: active ? null : iso(instanceStart + duration * DAY), reminded_at: active ? null : iso(instanceStart + (duration / 2) * DAY),
      // The settings it started with, as the portal copies them.
      scope_type: review.scope_type, scope_access_package_id: review.scope_access_package_id, scope_group_id: review.scope_group_id, scope_resource_id: review.scope_resource_id,
      reviewer_type: review.reviewer_type, if_no_response: review.if_no_response, auto_apply: review.auto_apply, require_justification: review.require_justification,
      show_recommendations: review.show_recommendations,
    });
    const subjects: { user: number; assignment: string | null; since: number | null }[] =
      kind === 'accessPackage'
        ? (reviewedPackages.get(pkg) ?? []).map((a) => ({ user: a.user, assignment: a.assignment, since: a.since }))
        : group < D
          ? Array.from({ length: M }, (_, u) => u).filter((u) => dept[u] === group && !disabled(u)).map((u) => ({ user: u, assignment: null, since: null }))
          : Array.from({ length: Math.ceil(M / T) }, (_, n) => (group - D - AG) + n * T).filter((u) => u < M && !disabled(u)).map((u) => ({ user: u, assignment: null, since: null }));
    for (const s of subjects) {
      const itemId = id(K.item, itemCount++);
      const ago = signInAgo(s.user);
      const reviewers = reviewerType === 'self' ? [s.user] : reviewerType === 'manager' ? (managerOf(s.user) >= 0 && !disabled(managerOf(s.user)) ? [managerOf(s.user)] : specific.filter((r) => r !== s.user)) : specific.filter((r) => r !== s.user);
      const decided = !active || rnd() < 0.25;
      const decision = decided && reviewers.length ? (rnd() < 0.9 ? 'approve' : 'deny') : null;
      const decidedAt = decision ? Math.min(now, instanceStart + rnd() * (active ? now - instanceStart : duration * DAY)) : null;
      const decidedBy = decision ? reviewers[0] : null;
      add('access_review_items', {
        id: itemId, instance_id: instanceId, subject_user_id: userId(s.user), subject_sort_name: userName(s.user).toLowerCase(), assignment_id: s.assignment, group_id: group >= 0 ? groupId(group) : null,
        access_label: kind === 'accessPackage' ? pkgName(pkg) : groupName(group), access_since: s.since === null ? null : iso(s.since),
        recommendation: ago !== null ? 'approve' : 'deny', decision, decided_by_id: decidedBy === null ? null : userId(decidedBy),
        decided_at: decidedAt === null ? null : iso(decidedAt), justification: decision === 'deny' ? 'No longer in this team.' : null,
      });
      for (const r of reviewers) add('access_review_item_reviewers', { item_id: itemId, user_id: userId(r) });
      if (decision) add('access_review_decisions', { item_id: itemId, reviewer_id: userId(decidedBy!), decision, justification: decision === 'deny' ? 'No longer in this team.' : null, decided_at: iso(decidedAt!) });
    }
    await sink.drain();
  }
  await sink.flush();
  return { directoryId, hint, domain, counts };
}
