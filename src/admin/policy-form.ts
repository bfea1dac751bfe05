import { FieldErrors, ValidationFailed } from '../errors.ts';
import type { FormBody } from '../web/forms.ts';

/** A policy in the directory-file format: what the editor shows, and what it saves through the import. */
export interface FilePolicy {
  name: string;
  description?: string;
  requestors: { scope: 'specific'; users?: string[]; groups?: string[] } | { scope: 'allMembers' | 'allUsers' | 'none' };
  acceptRequests?: boolean;
  requireJustification?: boolean;
  approval?: { stages: FileStage[] } | null;
  questions?: FileQuestion[];
  requestorAttributes?: FileAttribute[];
  expiration?: { afterDays?: number; afterHours?: number; onDate?: string; never?: boolean };
  allowCustomPeriod?: boolean;
  /** The editor's only: what was typed in a number field that is not a whole number, shown again as typed. Never saved (such a form is refused). */
  typed?: Record<string, string>;
}

type FileApprover = { type: 'manager' } | { type: 'sponsor' } | { type: 'user'; email: string } | { type: 'group'; group: string };

export interface FileStage {
  approvers: FileApprover[];
  fallbackApprovers?: FileApprover[];
  timeoutDays?: number;
  requireApproverJustification?: boolean;
  escalation?: { afterDays: number; approvers: FileApprover[] } | null;
  /** As FilePolicy.typed, for this stage's number fields (it moves with the stage when one is removed). */
  typed?: Record<string, string>;
}

export interface FileQuestion {
  key: string;
  text: string;
  type: 'shortText' | 'longText' | 'multipleChoice';
  choices?: string[];
  required?: boolean;
  pattern?: string;
  patternHint?: string;
}

export interface FileAttribute {
  attribute: string;
  label: string;
  type: string;
  required?: boolean;
  editable?: boolean;
}

export const MAX_STAGES = 3;
const MAX_ITEMS = 50;

export const emptyPolicy = (): FilePolicy => ({
  name: '',
  description: '',
  requestors: { scope: 'allMembers' },
  acceptRequests: true,
  requireJustification: true,
  approval: { stages: [emptyStage()] },
  questions: [],
  requestorAttributes: [],
  expiration: { afterDays: 30 },
  allowCustomPeriod: false,
});

export const emptyStage = (): FileStage => ({ approvers: [{ type: 'manager' }], fallbackApprovers: [], timeoutDays: 14, requireApproverJustification: false, escalation: null });
const emptyQuestion = (): FileQuestion => ({ key: '', text: '', type: 'shortText', required: true });
const emptyAttribute = (): FileAttribute => ({ attribute: '', label: '', type: 'shortText', required: true, editable: true });

const lines = (text: string) =>
  text
    .split(/\r?\n|,/)
    .map((l) => l.trim())
    .filter(Boolean);

/**
 * "A number of days" needs one: left empty or 0 it would mean access that never ends (as in the
 * directory file), which is what "Never" is for.
 */
function daysOfAccess(value: string, errors: FieldErrors, typed: Record<string, string>): number {
  const days = whole(value, 'expirationDays', 'Days', errors, typed, 'expirationDays');
  if (days === 0 || (days !== undefined && days > 3660) || (days === undefined && !errors.has('expirationDays'))) {
    errors.add('expirationDays', 'Days: enter how many days access lasts, from 1 to 3660, or choose that access never ends');
  }
  return days ?? 0;
}

/** A whole number, or undefined when empty; anything else is refused and kept in `typed` under `key`. */
function whole(value: string, field: string, label: string, errors: FieldErrors, typed: Record<string, string>, key: string): number | undefined {
  if (value === '') return undefined;
  if (!/^\d{1,6}$/.test(value)) {
    errors.add(field, `${label}: enter a whole number`);
    typed[key] = value;
    return undefined;
  }
  return Number(value);
}

function approvers(form: FormBody, prefix: string, kinds: boolean): FileApprover[] {
  const list: FileApprover[] = [];
  if (kinds) for (const kind of form.list(`${prefix}`)) if (kind === 'manager' || kind === 'sponsor') list.push({ type: kind });
  for (const email of lines(form.raw(`${prefix}Users`))) list.push({ type: 'user', email: email.toLowerCase() });
  for (const group of groupKeys(form, `${prefix}Groups`)) list.push({ type: 'group', group });
  return list;
}

/** Group keys from ticked boxes or, in a directory with many groups, typed one per line: both read the same. */
function groupKeys(form: FormBody, name: string): string[] {
  return form.list(name).flatMap((v) => lines(v));
}

/**
 * Reads the policy editor. Besides Save, the form has buttons that add, remove or move a stage,
 * question or attribute: they re-draw the form (with or without JavaScript) and save nothing.
 */
export function readPolicyForm(form: FormBody): { policy: FilePolicy; action: string } {
  const errors = new FieldErrors();
  const scope = form.text('scope');
  const requestors: FilePolicy['requestors'] =
    scope === 'specific'
      ? { scope: 'specific', users: lines(form.raw('requestorUsers')).map((e) => e.toLowerCase()), groups: groupKeys(form, 'requestorGroups') }
      : { scope: (['allMembers', 'allUsers', 'none'].includes(scope) ? scope : 'allMembers') as 'allMembers' };

  const stageCount = Math.min(MAX_STAGES, Number(form.text('stageCount')) || 0);
  const stages: FileStage[] = [];
  for (let i = 0; i < stageCount; i++) {
    const p = `stage-${i}-`;
    const escalate = form.text(`${p}escalate`) === 'yes';
    const typed: Record<string, string> = {};
    const stage: FileStage = {
      approvers: approvers(form, `${p}approvers`, true),
      fallbackApprovers: approvers(form, `${p}fallback`, false),
      timeoutDays: whole(form.text(`${p}timeoutDays`), `${p}timeoutDays`, `Stage ${i + 1}: decision must be made in how many days`, errors, typed, 'timeoutDays'),
      requireApproverJustification: form.text(`${p}requireApproverJustification`) === 'yes',
      escalation: escalate
        ? {
            afterDays: whole(form.text(`${p}escalationAfterDays`), `${p}escalationAfterDays`, `Stage ${i + 1}: forward after how many days`, errors, typed, 'escalationAfterDays') ?? 0,
            approvers: approvers(form, `${p}escalation`, false),
          }
        : null,
    };
    if (Object.keys(typed).length > 0) stage.typed = typed;
    stages.push(stage);
  }

  const questionCount = Math.min(MAX_ITEMS, Number(form.text('questionCount')) || 0);
  const questions: FileQuestion[] = [];
  for (let j = 0; j < questionCount; j++) {
    const p = `question-${j}-`;
    const type = form.text(`${p}type`);
    const q: FileQuestion = {
      key: form.text(`${p}key`),
      text: form.text(`${p}text`),
      type: (['shortText', 'longText', 'multipleChoice'].includes(type) ? type : 'shortText') as FileQuestion['type'],
      required: form.text(`${p}required`) === 'yes',
    };
    if (q.type === 'multipleChoice') q.choices = lines(form.raw(`${p}choices`).replace(/,/g, '\n'));
    if (form.text(`${p}pattern`)) q.pattern = form.text(`${p}pattern`);
    if (form.text(`${p}patternHint`)) q.patternHint = form.text(`${p}patternHint`);
    questions.push(q);
  }

  const attributeCount = Math.min(MAX_ITEMS, Number(form.text('attributeCount')) || 0);
  const requestorAttributes: FileAttribute[] = [];
  for (let k = 0; k < attributeCount; k++) {
    const p = `attribute-${k}-`;
    requestorAttributes.push({
      attribute: form.text(`${p}attribute`),
      label: form.text(`${p}label`),
      type: form.text(`${p}type`) === 'longText' ? 'longText' : 'shortText',
      required: form.text(`${p}required`) === 'yes',
      editable: form.text(`${p}editable`) === 'yes',
    });
  }

  const kind = form.text('expiration');
  const typed: Record<string, string> = {};
  const expiration: FilePolicy['expiration'] =
    kind === 'afterHours'
      ? { afterHours: whole(form.text('expirationHours'), 'expirationHours', 'Hours', errors, typed, 'expirationHours') ?? 0 }
      : kind === 'onDate'
        ? { onDate: form.text('expirationDate') }
        : kind === 'never'
          ? { never: true }
          : { afterDays: daysOfAccess(form.text('expirationDays'), errors, typed) };
  if (kind === 'onDate' && !/^\d{4}-\d{2}-\d{2}$/.test(form.text('expirationDate'))) errors.add('expirationDate', 'Access ends on: enter a date, like 2027-06-30');

  const policy: FilePolicy = {
    name: form.text('name'),
    description: form.text('description'),
    requestors,
    acceptRequests: form.text('acceptRequests') === 'yes',
    requireJustification: form.text('requireJustification') === 'yes',
    approval: form.text('approvalRequired') === 'no' ? null : { stages },
    questions,
    requestorAttributes,
    expiration,
    allowCustomPeriod: form.text('allowCustomPeriod') === 'yes',
  };
  if (Object.keys(typed).length > 0) policy.typed = typed;
  const action = form.text('action') || 'save';
  if (action === 'save') {
    if (!policy.name) errors.add('name', 'Name: enter a name for the policy');
    if (errors.any) throw new PolicyFormInvalid(policy, errors);
  }
  return { policy, action };
}

/** The form's own refusals (not numbers, no name), with what was typed so the form can be re-drawn. */
export class PolicyFormInvalid extends ValidationFailed {
  readonly policy: FilePolicy;
  constructor(policy: FilePolicy, errors: FieldErrors) {
    super(errors.toArray());
    this.policy = policy;
  }
}

/** Applies an add/remove/move button to the policy being edited. Unknown actions change nothing. */
export function applyFormAction(policy: FilePolicy, action: string): FilePolicy {
  const next = structuredClone(policy);
  const stages = next.approval?.stages ?? [];
  const questions = (next.questions ??= []);
  const attributes = (next.requestorAttributes ??= []);
  const [verb, index] = action.split('-');
  const i = Number(index);
  const move = <T>(list: T[], from: number, to: number) => {
    if (to < 0 || to >= list.length) return;
    const [item] = list.splice(from, 1);
    list.splice(to, 0, item);
  };
  switch (verb) {
    case 'addStage':
      if (!next.approval) next.approval = { stages: [] };
      if (next.approval.stages.length < MAX_STAGES) next.approval.stages.push({ ...emptyStage(), approvers: [] });
      break;
    case 'removeStage':
      if (Number.isInteger(i)) stages.splice(i, 1);
      break;
    case 'addQuestion':
      if (questions.length < MAX_ITEMS) questions.push(emptyQuestion());
      break;
    case 'removeQuestion':
      if (Number.isInteger(i)) questions.splice(i, 1);
      break;
    case 'moveQuestionUp':
      if (Number.isInteger(i)) move(questions, i, i - 1);
      break;
    case 'moveQuestionDown':
      if (Number.isInteger(i)) move(questions, i, i + 1);
      break;
    case 'addAttribute':
      if (attributes.length < MAX_ITEMS) attributes.push(emptyAttribute());
      break;
    case 'removeAttribute':
      if (Number.isInteger(i)) attributes.splice(i, 1);
      break;
  }
  return next;
}

/** Which field of the editor a problem reported by the import belongs to. */
export function policyFieldFor(suffix: string): { field: string; label: string; words?: (message: string) => string } | undefined {
  let m: RegExpExecArray | null;
  if (suffix === '' ) return undefined;
  if (suffix === 'name') return { field: 'name', label: 'Name' };
  if (suffix === 'description') return { field: 'description', label: 'Description' };
  if ((m = /^requestors\.groups/.exec(suffix))) return { field: 'requestorGroups', label: 'Groups who can request' };
  if ((m = /^requestors/.exec(suffix))) return { field: 'requestorUsers', label: 'Who can request' };
  if ((m = /^approval\.stages\[(\d)\]\.(\w+)(\[\d+\])?(\.(\w+))?/.exec(suffix))) {
    const [, i, part, , , sub] = m;
    const stage = `Stage ${Number(i) + 1}`;
    // A group's problem (an unknown key) belongs to the groups field, any other to the people's.
    const group = /\.group$/.test(suffix);
    if (part === 'approvers') return group ? { field: `stage-${i}-approversGroups`, label: `${stage} approver groups` } : { field: `stage-${i}-approversUsers`, label: `${stage} approvers` };
    if (part === 'fallbackApprovers') return group ? { field: `stage-${i}-fallbackGroups`, label: `${stage} fallback approver groups` } : { field: `stage-${i}-fallbackUsers`, label: `${stage} fallback approvers` };
    if (part === 'timeoutDays') return { field: `stage-${i}-timeoutDays`, label: `${stage}: decision must be made in how many days` };
    if (part === 'escalation') {
      if (sub === 'approvers') return group ? { field: `stage-${i}-escalationGroups`, label: `${stage} alternate approver groups` } : { field: `stage-${i}-escalationUsers`, label: `${stage} alternate approvers` };
      // The file's rules name its field timeoutDays: the editor calls it the days to decide.
      if (sub === 'afterDays') {
        return { field: `stage-${i}-escalationAfterDays`, label: `${stage}: forward after how many days`, words: (m) => m.replace(/^must be less than the stage's timeoutDays \((\d+)\)$/, 'must be fewer than the days to decide ($1)') };
      }
      return {
        field: `stage-${i}-escalate`,
        label: `${stage}: forward to alternate approvers`,
        words: (m) => m.replace(/^escalation needs a stage timeoutDays of at least 4 \(this stage has (\d+)\)$/, 'needs at least 4 days to decide (this stage has $1)'),
      };
    }
    return { field: `stage-${i}-approversUsers`, label: stage };
  }
  if (/^approval/.test(suffix)) return { field: 'approvalRequired', label: 'Approval' };
  if ((m = /^questions\[(\d+)\](\.(\w+))?/.exec(suffix))) {
    const [, j, , part] = m;
    const field = ['key', 'text', 'type', 'choices', 'pattern', 'patternHint'].includes(part ?? '') ? part : 'text';
    return { field: `question-${j}-${field}`, label: `Question ${Number(j) + 1} ${field === 'patternHint' ? 'pattern hint' : field}` };
  }
  if ((m = /^requestorAttributes\[(\d+)\](\.(\w+))?/.exec(suffix))) {
    const [, k, , part] = m;
    const field = ['attribute', 'label', 'type'].includes(part ?? '') ? part : 'attribute';
    return { field: `attribute-${k}-${field}`, label: `Requestor attribute ${Number(k) + 1} ${field}` };
  }
  if (/^expiration\.afterHours/.test(suffix)) return { field: 'expirationHours', label: 'Hours' };
  if (/^expiration\.onDate/.test(suffix)) return { field: 'expirationDate', label: 'Access ends on' };
  if (/^expiration/.test(suffix)) return { field: 'expirationDays', label: 'Days' };
  if (suffix === 'allowCustomPeriod') return { field: 'allowCustomPeriod', label: 'Request for specific period' };
  return undefined;
}
