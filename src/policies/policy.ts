import { addDays, addHours } from '../clock.ts';

export type RequestorScope = 'specific' | 'allMembers' | 'allUsers' | 'none';

export interface Question {
  key: string;
  text: string;
  type: 'shortText' | 'longText' | 'multipleChoice';
  choices?: string[];
  required: boolean;
  pattern?: string;
  patternHint?: string;
}

export interface RequestorAttribute {
  attribute: string;
  label: string;
  type: string;
  required: boolean;
  editable: boolean;
}

export type Expiration =
  | { kind: 'afterDays'; days: number }
  | { kind: 'afterHours'; hours: number }
  | { kind: 'onDate'; date: Date }
  | { kind: 'never' };

export type ApproverKind = 'manager' | 'sponsor' | 'user' | 'group';

export interface PolicyApprover {
  role: 'primary' | 'fallback' | 'escalation';
  type: ApproverKind;
  userId: string | null;
  groupId: string | null;
  /** Display name of the user or group, for people choosing a policy. */
  name: string | null;
}

export interface PolicyStage {
  position: number;
  timeoutDays: number;
  requireApproverJustification: boolean;
  escalationAfterDays: number | null;
  approvers: PolicyApprover[];
}

export interface Policy {
  id: string;
  accessPackageId: string;
  name: string;
  description: string;
  requestorScope: RequestorScope;
  acceptRequests: boolean;
  requireJustification: boolean;
  questions: Question[];
  requestorAttributes: RequestorAttribute[];
  expiration: Expiration;
  allowCustomPeriod: boolean;
  stages: PolicyStage[];
  updatedAt: Date;
}

export const needsApproval = (policy: Pick<Policy, 'stages'>) => policy.stages.length > 0;

/** When access granted at `start` ends under this policy (null: no end). */
export function policyEnd(expiration: Expiration, start: Date): Date | null {
  switch (expiration.kind) {
    case 'afterDays':
      return expiration.days > 0 ? addDays(start, expiration.days) : null;
    case 'afterHours':
      return addHours(start, expiration.hours);
    case 'onDate':
      return expiration.date;
    case 'never':
      return null;
  }
}

/** "60 days", "8 hours", "until 30 June 2027", "no end date" — for people choosing a policy. */
export function describeExpiration(expiration: Expiration, formatDate: (d: Date) => string): string {
  switch (expiration.kind) {
    case 'afterDays':
      return expiration.days > 0 ? `${expiration.days} ${expiration.days === 1 ? 'day' : 'days'}` : 'No end date';
    case 'afterHours':
      return `${expiration.hours} ${expiration.hours === 1 ? 'hour' : 'hours'}`;
    case 'onDate':
      return `Until ${formatDate(expiration.date)}`;
    case 'never':
      return 'No end date';
  }
}

/** An expiration as stored in JSON (dates as ISO strings) back to its typed form. */
export function expirationFromJson(value: unknown): Expiration {
  const e = (value ?? { kind: 'never' }) as { kind: string; days?: number; hours?: number; date?: string };
  switch (e.kind) {
    case 'afterDays':
      return { kind: 'afterDays', days: Number(e.days) };
    case 'afterHours':
      return { kind: 'afterHours', hours: Number(e.hours) };
    case 'onDate':
      return { kind: 'onDate', date: new Date(e.date!) };
    default:
      return { kind: 'never' };
  }
}
