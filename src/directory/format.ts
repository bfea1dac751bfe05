import { z } from 'zod';

/**
 * The directory file format (see FORMAT.md and /shared/fixtures/README.md, the contract).
 * Every object is strict: a field the format does not know is an error, at every level.
 * Defaults are filled in here, so the rest of the importer works on a complete, normalized file.
 * Dates stay strings (ISO 8601 or `now`, `now-7d`, `now+8h`); `resolveDate` turns them into
 * moments against the time of the import.
 */

// ---- dates -------------------------------------------------------------------------------------

const RELATIVE = /^now(?:([+-])(\d{1,6})([dh]))?$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

export const DATE_HELP = 'expected an ISO 8601 date (2027-06-30 or 2027-06-30T17:00:00Z) or now, now-7d, now+30d, now+8h';

/** The offset in milliseconds of a relative date (`now-7d` → -7 days), or null for an absolute one. */
export function relativeOffset(value: string): number | null {
  const m = RELATIVE.exec(value);
  if (!m) return null;
  if (!m[1]) return 0;
  const n = Number(m[2]) * (m[3] === 'd' ? 24 : 1) * 3_600_000;
  return m[1] === '-' ? -n : n;
}

export function isRelativeDate(value: string): boolean {
  return RELATIVE.test(value);
}

/** An absolute ISO date or datetime; a date alone is midnight UTC, a datetime without a zone is UTC. */
function parseAbsolute(value: string): Date | null {
  let m = ISO_DATE.exec(value);
  if (m) {
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]) ? d : null;
  }
  m = ISO_DATETIME.exec(value);
  if (!m) return null;
  const [, y, mo, da, h, mi, s = '0'] = m;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(da)));
  if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(da)) return null;
  const d = new Date(m[8] ? value : `${value}Z`);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function isDateString(value: string): boolean {
  return isRelativeDate(value) || parseAbsolute(value) !== null;
}

/** Resolves a file date against `now` (the moment of the import). Throws on a malformed date. */
export function resolveDate(value: string, now: Date): Date {
  const offset = relativeOffset(value);
  if (offset !== null) return new Date(now.getTime() + offset);
  const d = parseAbsolute(value);
  if (!d) throw new Error(`not a date: ${value}`);
  return d;
}

// ---- building blocks ---------------------------------------------------------------------------

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `at most ${max} characters`);
const optionalText = (max: number) => z.string().trim().max(max, `at most ${max} characters`);
export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[^\s@]+@[^\s@]+$/, 'not an email address')
  .max(320, 'at most 320 characters');
const dateSchema = z.string().trim().refine(isDateString, DATE_HELP);
const uuidSchema = z.string().trim().toLowerCase().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'not a UUID');
const keySchema = text(200);
const flag = (value: boolean) => z.boolean().default(value);

// ---- directory and people ----------------------------------------------------------------------

export const HINT_PATTERN = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

const signInSchema = z.strictObject({
  password: z.boolean().optional(),
  oidc: z
    .strictObject({
      issuer: z.url({ protocol: /^https?$/, error: 'not an http(s) URL' }),
      clientId: text(500),
      clientSecretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name'),
    })
    .optional(),
});

const userSchema = z.strictObject({
  email: emailSchema,
  displayName: text(200),
  password: z.string().min(1, 'must not be empty').max(1000, 'at most 1000 characters').optional(),
  passwordHash: z.string().optional(),
  type: z.enum(['member', 'guest']).default('member'),
  manager: emailSchema.nullish(),
  sponsors: z.array(emailSchema).default([]),
  attributes: z.record(z.string().min(1, 'attribute names must not be empty').max(100), z.string().max(1000)).default({}),
  roles: z.array(z.enum(['admin'])).default([]),
  lastSignIn: dateSchema.nullish(),
});

const groupSchema = z.strictObject({
  key: keySchema,
  name: text(200),
  members: z.array(emailSchema).default([]),
});

// ---- approval ----------------------------------------------------------------------------------

const approverSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('manager') }),
  z.strictObject({ type: z.literal('sponsor') }),
  z.strictObject({ type: z.literal('user'), email: emailSchema }),
  z.strictObject({ type: z.literal('group'), group: keySchema }),
]);

const stageSchema = z.strictObject({
  approvers: z.array(approverSchema).default([]),
  fallbackApprovers: z.array(approverSchema).default([]),
  timeoutDays: z.number().int('must be a whole number').min(1, 'must be at least 1').max(3660, 'at most 3660').default(14),
  requireApproverJustification: flag(false),
  escalation: z
    .strictObject({
      afterDays: z.number().int('must be a whole number').min(1, 'must be at least 1'),
      approvers: z.array(approverSchema).default([]),
    })
    .nullish(),
});

const approvalSchema = z.strictObject({ stages: z.array(stageSchema) });

// ---- policies ----------------------------------------------------------------------------------

const requestorsSchema = z.discriminatedUnion('scope', [
  z.strictObject({ scope: z.literal('specific'), users: z.array(emailSchema).default([]), groups: z.array(keySchema).default([]) }),
  z.strictObject({ scope: z.literal('allMembers') }),
  z.strictObject({ scope: z.literal('allUsers') }),
  z.strictObject({ scope: z.literal('none') }),
]);

const FIELD_TYPES = ['shortText', 'longText', 'multipleChoice'] as const;

const questionSchema = z.strictObject({
  key: keySchema,
  text: text(1000),
  type: z.enum(FIELD_TYPES),
  choices: z.array(text(200)).optional(),
  required: flag(false),
  pattern: z.string().min(1, 'must not be empty').max(1000).optional(),
  patternHint: optionalText(500).optional(),
});

const requestorAttributeSchema = z.strictObject({
  attribute: z.string().min(1, 'must not be empty').max(100),
  label: text(200),
  type: z.enum(FIELD_TYPES).default('shortText'),
  choices: z.array(text(200)).optional(),
  required: flag(false),
  editable: flag(true),
});

/** Exactly one of afterDays, afterHours, onDate, never (checked in validate.ts, with its path). */
const expirationSchema = z.strictObject({
  afterDays: z.number().int('must be a whole number').optional(),
  afterHours: z.number().int('must be a whole number').optional(),
  onDate: dateSchema.optional(),
  never: z.literal(true, { error: 'must be true' }).optional(),
});

const policySchema = z.strictObject({
  name: text(200),
  description: optionalText(4000).default(''),
  requestors: requestorsSchema,
  acceptRequests: flag(true),
  requireJustification: flag(false),
  approval: approvalSchema.nullable().default(null),
  questions: z.array(questionSchema).default([]),
  requestorAttributes: z.array(requestorAttributeSchema).default([]),
  expiration: expirationSchema.default({ never: true }),
  allowCustomPeriod: flag(false),
});

// ---- catalogs ----------------------------------------------------------------------------------

const resourceSchema = z.strictObject({
  key: keySchema,
  type: z.enum(['group', 'application', 'site']),
  name: text(200),
  description: optionalText(4000).default(''),
  url: z.url({ protocol: /^https?$/, error: 'not an http(s) URL' }).nullish(),
  roles: z.array(text(100)).optional(),
});

const accessPackageSchema = z.strictObject({
  id: uuidSchema.optional(),
  name: text(200),
  description: optionalText(4000).default(''),
  hidden: flag(false),
  resourceRoles: z.array(z.strictObject({ resource: keySchema, role: text(100) })).default([]),
  incompatibleWith: z.array(uuidSchema).default([]),
  policies: z.array(policySchema).default([]),
});

const catalogSchema = z.strictObject({
  name: text(200),
  description: optionalText(4000).default(''),
  enabled: flag(true),
  owners: z.array(emailSchema).default([]),
  resources: z.array(resourceSchema).default([]),
  accessPackages: z.array(accessPackageSchema).default([]),
});

const assignmentSchema = z.strictObject({
  user: emailSchema,
  accessPackage: uuidSchema,
  policy: text(200),
  start: dateSchema.default('now'),
  end: dateSchema.nullish(),
});

// ---- access reviews ----------------------------------------------------------------------------

/** Exactly one of accessPackage, group, resource (checked in validate.ts). */
const reviewScopeSchema = z.strictObject({
  accessPackage: uuidSchema.optional(),
  group: keySchema.optional(),
  resource: keySchema.optional(),
});

const reviewersSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('self') }),
  z.strictObject({ type: z.literal('manager'), fallback: z.array(emailSchema).default([]) }),
  z.strictObject({ type: z.literal('specific'), users: z.array(emailSchema).default([]) }),
]);

const accessReviewSchema = z.strictObject({
  id: uuidSchema.optional(),
  name: text(200),
  description: optionalText(4000).default(''),
  scope: reviewScopeSchema,
  reviewers: reviewersSchema,
  startsOn: dateSchema,
  durationDays: z.number().int('must be a whole number').min(1, 'must be at least 1').max(3660, 'at most 3660'),
  recurrence: z.enum(['once', 'weekly', 'monthly', 'quarterly', 'semiAnnually', 'annually']).default('once'),
  ifNoResponse: z.enum(['noChange', 'removeAccess', 'takeRecommendations']).default('noChange'),
  autoApply: flag(false),
  requireJustification: flag(false),
  showRecommendations: flag(false),
});

// ---- the file ----------------------------------------------------------------------------------

export const directoryFileSchema = z.strictObject({
  directory: z.strictObject({
    hint: z
      .string()
      .trim()
      .toLowerCase()
      .max(253, 'at most 253 characters')
      .regex(HINT_PATTERN, 'letters, digits, dots and hyphens, starting and ending with a letter or digit'),
    name: text(200),
    signIn: signInSchema.default({ password: true }),
  }),
  users: z.array(userSchema).default([]),
  groups: z.array(groupSchema).default([]),
  catalogs: z.array(catalogSchema).default([]),
  assignments: z.array(assignmentSchema).default([]),
  accessReviews: z.array(accessReviewSchema).default([]),
});

/** A directory file as written (optional fields may be absent). `exportDirectory` produces one. */
export type DirectoryFile = z.input<typeof directoryFileSchema>;
/** A directory file after parsing: defaults filled in, emails in lower case. */
export type ParsedDirectory = z.output<typeof directoryFileSchema>;
export type ParsedUser = ParsedDirectory['users'][number];
export type ParsedGroup = ParsedDirectory['groups'][number];
export type ParsedCatalog = ParsedDirectory['catalogs'][number];
export type ParsedResource = ParsedCatalog['resources'][number];
export type ParsedAccessPackage = ParsedCatalog['accessPackages'][number];
export type ParsedPolicy = ParsedAccessPackage['policies'][number];
export type ParsedApproval = NonNullable<ParsedPolicy['approval']>;
export type ParsedStage = ParsedApproval['stages'][number];
export type ParsedApprover = ParsedStage['approvers'][number];
export type ParsedQuestion = ParsedPolicy['questions'][number];
export type ParsedRequestorAttribute = ParsedPolicy['requestorAttributes'][number];
export type ParsedExpiration = ParsedPolicy['expiration'];
export type ParsedAssignment = ParsedDirectory['assignments'][number];
export type ParsedAccessReview = ParsedDirectory['accessReviews'][number];
export type SignIn = { password: true } | { oidc: { issuer: string; clientId: string; clientSecretEnv: string } };

/** The roles a resource gets when the file lists none: Member and Owner for a group, Member otherwise. */
export function resourceRoles(resource: ParsedResource): string[] {
  return resource.roles ?? (resource.type === 'group' ? ['Member', 'Owner'] : ['Member']);
}

/** The sign-in setting as stored: `{ password: true }` or `{ oidc: {...} }` (validate.ts checks exactly one). */
export function normalizeSignIn(signIn: ParsedDirectory['directory']['signIn']): SignIn {
  return signIn.oidc ? { oidc: { ...signIn.oidc } } : { password: true };
}
