import type { z } from 'zod';
import { isPasswordHash } from '../auth/password.ts';
import { patternError } from '../shared/pattern.ts';
import {
  directoryFileSchema,
  resolveDate,
  resourceRoles,
  type ParsedApprover,
  type ParsedDirectory,
  type ParsedQuestion,
  type ParsedRequestorAttribute,
} from './format.ts';

/** One thing wrong with a directory file, at its JSON path (`catalogs[0].accessPackages[1].policies[0]`). */
export interface Problem {
  path: string;
  message: string;
}

/** `['catalogs', 0, 'name']` → `catalogs[0].name`; keys that are not identifiers are quoted: `attributes["cost center"]`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else {
      const key = String(s);
      if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out ? `.${key}` : key;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out || '(file)';
}

const ARTICLE: Record<string, string> = { object: 'an object', array: 'an array', string: 'a string', number: 'a number', boolean: 'true or false' };

/** Messages for zod's own issues; messages set on the schema itself (format.ts) take precedence. */
const errorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required';
      if (iss.expected === 'int') return 'must be a whole number';
      return `must be ${ARTICLE[iss.expected] ?? iss.expected}`;
    case 'invalid_value':
      return iss.values.length === 1 ? `must be ${JSON.stringify(iss.values[0])}` : `must be one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union': {
      const options = (iss as { options?: unknown[] }).options;
      if (options?.length) {
        const list = options.map((v) => JSON.stringify(v)).join(', ');
        return iss.input === undefined ? `required: one of ${list}` : `must be one of ${list}`;
      }
      return 'not a valid value here';
    }
    case 'too_small':
      if (iss.origin === 'array') return `must have at least ${String(iss.minimum)} item${Number(iss.minimum) === 1 ? '' : 's'}`;
      return `must be at least ${String(iss.minimum)}`;
    case 'too_big':
      if (iss.origin === 'array') return `must have at most ${String(iss.maximum)} items`;
      return `must be at most ${String(iss.maximum)}`;
    default:
      return undefined;
  }
};

export function zodProblems(error: z.ZodError): Problem[] {
  const problems: Problem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: formatPath([...issue.path, key]), message: 'unknown field' });
    } else {
      problems.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return problems;
}

export type ParseResult = { ok: true; file: ParsedDirectory } | { ok: false; problems: Problem[] };

/**
 * Checks a directory file completely: the schema first (structure, types, unknown fields), then
 * references and sanity rules. All problems come back at once, one message each. `now` resolves
 * relative dates for the checks that compare dates.
 */
export function parseDirectoryFile(input: unknown, now: Date = new Date()): ParseResult {
  const parsed = directoryFileSchema.safeParse(input, { error: errorMap });
  if (!parsed.success) return { ok: false, problems: zodProblems(parsed.error) };
  const problems = validateDirectory(parsed.data, now);
  return problems.length ? { ok: false, problems } : { ok: true, file: parsed.data };
}

function firstIndexes<T>(items: readonly T[], keyOf: (item: T) => string | undefined, onDuplicate: (index: number, first: number, key: string) => void) {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    if (key === undefined) return;
    const first = seen.get(key);
    if (first !== undefined) onDuplicate(i, first, key);
    else seen.set(key, i);
  });
  return seen;
}

/** Reference and sanity checks on a file that already matches the schema. */
export function validateDirectory(file: ParsedDirectory, now: Date = new Date()): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });

  // ---- directory
  const signIn = file.directory.signIn;
  if ((signIn.password === true) === Boolean(signIn.oidc)) {
    add('directory.signIn', 'give exactly one of "password": true or "oidc"');
  }

  // ---- users
  const users = firstIndexes(file.users, (u) => u.email, (i, first, email) => add(`users[${i}].email`, `duplicate email ${email} (also users[${first}])`));
  const checkUser = (path: string, email: string) => {
    if (!users.has(email)) add(path, `unknown user ${email}`);
  };
  file.users.forEach((u, i) => {
    const at = `users[${i}]`;
    if (u.password !== undefined && u.passwordHash !== undefined) add(at, 'give either password or passwordHash, not both');
    else if (u.passwordHash !== undefined && !isPasswordHash(u.passwordHash)) {
      add(`${at}.passwordHash`, 'not a Portico password hash (scrypt$N$r$p$salt$key); give a plain password instead');
    }
    if (u.manager) {
      if (u.manager === u.email) add(`${at}.manager`, 'a user cannot be their own manager');
      else checkUser(`${at}.manager`, u.manager);
    }
    u.sponsors.forEach((s, j) => {
      if (s === u.email) add(`${at}.sponsors[${j}]`, 'a user cannot be their own sponsor');
      else checkUser(`${at}.sponsors[${j}]`, s);
    });
  });

  // ---- groups
  const groups = firstIndexes(file.groups, (g) => g.key, (i, first, key) => add(`groups[${i}].key`, `duplicate group key ${key} (also groups[${first}])`));
  const checkGroup = (path: string, key: string) => {
    if (!groups.has(key)) add(path, `unknown group ${key}`);
  };
  file.groups.forEach((g, i) => g.members.forEach((m, j) => checkUser(`groups[${i}].members[${j}]`, m)));

  // ---- catalogs, resources: collect keys and ids across the file first
  firstIndexes(file.catalogs, (c) => c.name, (i, first, name) => add(`catalogs[${i}].name`, `duplicate catalog name ${name} (also catalogs[${first}])`));
  const resources = new Map<string, { path: string; roles: Set<string> }>();
  const packages = new Map<string, { path: string; policies: Set<string> }>();
  file.catalogs.forEach((c, ci) => {
    c.resources.forEach((r, ri) => {
      const at = `catalogs[${ci}].resources[${ri}]`;
      const existing = resources.get(r.key);
      if (existing) add(`${at}.key`, `duplicate resource key ${r.key} (also ${existing.path})`);
      else resources.set(r.key, { path: at, roles: new Set(resourceRoles(r)) });
      const roles = resourceRoles(r);
      if (roles.length === 0) add(`${at}.roles`, 'a resource needs at least one role');
      firstIndexes(roles, (x) => x, (j, first, role) => add(`${at}.roles[${j}]`, `duplicate role ${role} (also roles[${first}])`));
    });
    c.accessPackages.forEach((p, pi) => {
      const at = `catalogs[${ci}].accessPackages[${pi}]`;
      if (!p.id) return;
      const existing = packages.get(p.id);
      if (existing) add(`${at}.id`, `duplicate access package id ${p.id} (also ${existing.path})`);
      else packages.set(p.id, { path: at, policies: new Set(p.policies.map((x) => x.name)) });
    });
  });

  const checkApprover = (path: string, a: ParsedApprover) => {
    if (a.type === 'user') checkUser(`${path}.email`, a.email);
    else if (a.type === 'group') checkGroup(`${path}.group`, a.group);
  };
  const checkFields = (path: string, fields: readonly (ParsedQuestion | ParsedRequestorAttribute)[]) => {
    fields.forEach((q, k) => {
      const at = `${path}[${k}]`;
      if (q.type === 'multipleChoice' && !q.choices?.length) add(`${at}.choices`, 'a multipleChoice field needs at least one choice');
      if (q.type !== 'multipleChoice' && q.choices !== undefined) add(`${at}.choices`, `only multipleChoice fields have choices (this one is ${q.type})`);
      if (q.choices) firstIndexes(q.choices, (x) => x, (j, first, choice) => add(`${at}.choices[${j}]`, `duplicate choice ${choice} (also choices[${first}])`));
      if ('pattern' in q && q.pattern !== undefined) {
        const err = patternError(q.pattern);
        if (err) add(`${at}.pattern`, `not a valid regular expression: ${err}`);
      }
    });
  };

  file.catalogs.forEach((c, ci) => {
    const cat = `catalogs[${ci}]`;
    c.owners.forEach((o, j) => checkUser(`${cat}.owners[${j}]`, o));
    // Packages are matched by name inside their catalog when they have no id: names must then be unambiguous.
    const names = new Map<string, { index: number; hasId: boolean }>();
    c.accessPackages.forEach((p, pi) => {
      const first = names.get(p.name);
      if (first && (!first.hasId || !p.id)) {
        add(`${cat}.accessPackages[${pi}].name`, `duplicate access package name ${p.name} in this catalog (also accessPackages[${first.index}]); give both an id`);
      } else if (!first) names.set(p.name, { index: pi, hasId: Boolean(p.id) });
    });

    c.accessPackages.forEach((p, pi) => {
      const pkg = `${cat}.accessPackages[${pi}]`;
      p.resourceRoles.forEach((rr, j) => {
        const resource = resources.get(rr.resource);
        if (!resource) add(`${pkg}.resourceRoles[${j}].resource`, `unknown resource ${rr.resource}`);
        else if (!resource.roles.has(rr.role)) {
          add(`${pkg}.resourceRoles[${j}].role`, `resource ${rr.resource} has no role ${rr.role} (its roles: ${[...resource.roles].join(', ')})`);
        }
      });
      p.incompatibleWith.forEach((id, j) => {
        if (id === p.id) add(`${pkg}.incompatibleWith[${j}]`, 'an access package cannot be incompatible with itself');
        else if (!packages.has(id)) add(`${pkg}.incompatibleWith[${j}]`, `unknown access package ${id}`);
      });
      firstIndexes(p.policies, (x) => x.name, (j, first, name) => add(`${pkg}.policies[${j}].name`, `duplicate policy name ${name} (also policies[${first}])`));

      p.policies.forEach((pol, k) => {
        const at = `${pkg}.policies[${k}]`;
        const req = pol.requestors;
        if (req.scope === 'specific') {
          if (req.users.length === 0 && req.groups.length === 0) add(`${at}.requestors`, 'the specific scope needs at least one user or group');
          req.users.forEach((u, j) => checkUser(`${at}.requestors.users[${j}]`, u));
          req.groups.forEach((g, j) => checkGroup(`${at}.requestors.groups[${j}]`, g));
        }

        if (pol.approval) {
          const stages = pol.approval.stages;
          if (stages.length < 1 || stages.length > 3) add(`${at}.approval.stages`, `an approval has 1 to 3 stages (this one has ${stages.length}); for no approval write "approval": null`);
          let managerStage: number | null = null;
          stages.forEach((s, si) => {
            const st = `${at}.approval.stages[${si}]`;
            if (s.approvers.length === 0) add(`${st}.approvers`, 'a stage needs at least one approver');
            s.approvers.forEach((a, j) => {
              checkApprover(`${st}.approvers[${j}]`, a);
              if (a.type === 'manager') {
                if (managerStage !== null && managerStage !== si) {
                  add(`${st}.approvers[${j}]`, `the manager can approve in one stage only (already in stages[${managerStage}])`);
                } else managerStage = si;
              }
            });
            s.fallbackApprovers.forEach((a, j) => {
              if (a.type !== 'user' && a.type !== 'group') add(`${st}.fallbackApprovers[${j}]`, 'fallback approvers must be users or groups');
              else checkApprover(`${st}.fallbackApprovers[${j}]`, a);
            });
            if (s.escalation) {
              const esc = `${st}.escalation`;
              if (s.timeoutDays < 4) add(esc, `escalation needs a stage timeoutDays of at least 4 (this stage has ${s.timeoutDays})`);
              if (s.escalation.afterDays >= s.timeoutDays) add(`${esc}.afterDays`, `must be less than the stage's timeoutDays (${s.timeoutDays})`);
              if (s.escalation.approvers.length === 0) add(`${esc}.approvers`, 'an escalation needs at least one approver');
              s.escalation.approvers.forEach((a, j) => checkApprover(`${esc}.approvers[${j}]`, a));
            }
          });
        }

        firstIndexes(pol.questions, (q) => q.key, (j, first, key) => add(`${at}.questions[${j}].key`, `duplicate question key ${key} (also questions[${first}])`));
        checkFields(`${at}.questions`, pol.questions);
        firstIndexes(pol.requestorAttributes, (q) => q.attribute, (j, first, name) =>
          add(`${at}.requestorAttributes[${j}].attribute`, `duplicate attribute ${name} (also requestorAttributes[${first}])`),
        );
        checkFields(`${at}.requestorAttributes`, pol.requestorAttributes);

        const exp = pol.expiration;
        const kinds = (['afterDays', 'afterHours', 'onDate', 'never'] as const).filter((key) => exp[key] !== undefined);
        if (kinds.length !== 1) {
          add(`${at}.expiration`, `give exactly one of afterDays, afterHours, onDate or "never": true${kinds.length ? ` (found ${kinds.join(', ')})` : ''}`);
        }
        if (exp.afterDays !== undefined && (exp.afterDays < 0 || exp.afterDays > 3660)) add(`${at}.expiration.afterDays`, 'must be between 0 and 3660 days');
        if (exp.afterHours !== undefined && (exp.afterHours < 1 || exp.afterHours > 87840)) add(`${at}.expiration.afterHours`, 'must be between 1 and 87840 hours');
      });
    });
  });

  // ---- assignments
  const held = new Map<string, number>();
  file.assignments.forEach((a, i) => {
    const at = `assignments[${i}]`;
    checkUser(`${at}.user`, a.user);
    const pkg = packages.get(a.accessPackage);
    if (!pkg) add(`${at}.accessPackage`, `unknown access package ${a.accessPackage}`);
    else if (!pkg.policies.has(a.policy)) add(`${at}.policy`, `access package ${a.accessPackage} has no policy named ${a.policy}`);
    const key = `${a.user} ${a.accessPackage}`;
    const first = held.get(key);
    if (first !== undefined) add(at, `duplicate assignment of this access package to ${a.user} (also assignments[${first}])`);
    else held.set(key, i);
    if (a.end) {
      const start = resolveDate(a.start, now);
      const end = resolveDate(a.end, now);
      if (end.getTime() <= start.getTime()) add(`${at}.end`, `must be after start (${start.toISOString()})`);
    }
  });

  // Separation of duties holds for imported access too: nobody holds a package and one it is incompatible with.
  const incompatible = new Map<string, string[]>();
  for (const c of file.catalogs) for (const p of c.accessPackages) if (p.id) incompatible.set(p.id, p.incompatibleWith);
  file.assignments.forEach((a, i) => {
    for (const other of incompatible.get(a.accessPackage) ?? []) {
      const j = held.get(`${a.user} ${other}`);
      if (j !== undefined && j !== i) add(`assignments[${i}]`, `${a.user} also holds access package ${other} (assignments[${j}]), which this access package is incompatible with`);
    }
  });

  // ---- access reviews
  firstIndexes(file.accessReviews, (r) => r.id, (i, first, id) => add(`accessReviews[${i}].id`, `duplicate access review id ${id} (also accessReviews[${first}])`));
  const reviewNames = new Map<string, { index: number; hasId: boolean }>();
  file.accessReviews.forEach((r, i) => {
    const at = `accessReviews[${i}]`;
    const first = reviewNames.get(r.name);
    if (first && (!first.hasId || !r.id)) add(`${at}.name`, `duplicate access review name ${r.name} (also accessReviews[${first.index}]); give both an id`);
    else if (!first) reviewNames.set(r.name, { index: i, hasId: Boolean(r.id) });

    const scopes = (['accessPackage', 'group', 'resource'] as const).filter((key) => r.scope[key] !== undefined);
    if (scopes.length !== 1) add(`${at}.scope`, 'give exactly one of accessPackage, group or resource');
    if (r.scope.accessPackage !== undefined && !packages.has(r.scope.accessPackage)) add(`${at}.scope.accessPackage`, `unknown access package ${r.scope.accessPackage}`);
    if (r.scope.group !== undefined) checkGroup(`${at}.scope.group`, r.scope.group);
    if (r.scope.resource !== undefined && !resources.has(r.scope.resource)) add(`${at}.scope.resource`, `unknown resource ${r.scope.resource}`);

    const rev = r.reviewers;
    if (rev.type === 'manager') rev.fallback.forEach((u, j) => checkUser(`${at}.reviewers.fallback[${j}]`, u));
    if (rev.type === 'specific') {
      if (rev.users.length === 0) add(`${at}.reviewers.users`, 'specific reviewers need at least one user');
      rev.users.forEach((u, j) => checkUser(`${at}.reviewers.users[${j}]`, u));
    }
  });

  return problems;
}
