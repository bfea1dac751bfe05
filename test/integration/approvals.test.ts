import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { remindEndingAssignments } from '../../src/assignments/lifecycle.ts';
import { runSweep, sweepAndQueueEmails } from '../../src/lifecycle/sweep.ts';
import { queueDeferredNotifications } from '../../src/notifications/deferred.ts';
import { createLogger } from '../../src/log.ts';
import { csrfFrom, signIn, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, fabrikamApp, PKG, USER } from '../support/fixtures.ts';
import { clearActivity, decide, policyId, requestId, userId, validWiki } from '../support/flows.ts';
import { mailTo as readMail } from '../support/mail.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];
const START = '2027-01-15T09:00:00Z';

const sweep = () => sweepAndQueueEmails({ db, notifier: t.services.notifier, logger: createLogger('silent') }, t.clock.now());
const stateOf = async (id: string) => (await db('requests').where({ id }).first('state')).state as string;
const mailTo = (email: string, kind?: string) => readMail(t, email, kind);
const approversOf = async (id: string, position: number) =>
  db('request_stage_approvers as a')
    .join('request_stages as s', 's.id', 'a.stage_id')
    .join('users as u', 'u.id', 'a.user_id')
    .where({ 's.request_id': id, 's.position': position })
    .orderBy('u.email')
    .select('u.email', 'a.kind');

const twoStage = { justification: 'Incident INC-1 needs it.' };

beforeAll(async () => {
  ({ database, db, t } = await fabrikamApp());
});
afterAll(() => database.close());
beforeEach(async () => {
  await clearActivity(db);
  t.clock.set(START);
});

describe('who approves', () => {
  it('asks the requestor’s manager, and shows the request on their Pending tab', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    expect(await approversOf(id, 1)).toEqual([{ email: USER.manager, kind: 'primary' }]);
    const max = await signIn(t.app, USER.manager);
    const pending = await max.get('/approvals');
    expect(pending.text).toContain('Rita Requestor');
    expect(pending.text).toContain('Wiki editors');
    expect(pending.text).toContain('29 January 2027 at 09:00 UTC');
    const pane = await max.get(`/approvals/${id}`);
    expect(pane.text).toContain('<dt>Department</dt><dd>Engineering</dd>');
    expect(pane.text).toContain('<dt>Manager</dt><dd>Max Manager</dd>');
    expect(pane.text).toContain('<dd>WIKI-7</dd>');
    expect(pane.text).toContain('<dt>Cost center</dt><dd>CC-42</dd>');
    expect(pane.text).toContain('I maintain the on-call runbooks.');
    expect(pane.text).toContain('>Approve</button>');
    expect(pane.text).toContain('>Deny</button>');
    const [mail] = await mailTo(USER.manager);
    expect(mail.subject).toBe('Action required: Approve or deny request by 29 January 2027');
    expect(mail.text).toContain(`http://127.0.0.1:3000/@fabrikam.test/approvals/${id}`);
    expect(mail.text).toContain('Rita Requestor asked for access to Wiki editors');
  });

  it('asks a guest’s sponsor', async () => {
    const gus = await signIn(t.app, USER.guest);
    const id = await requestId(gus, PKG.partner, await policyId(db, PKG.partner, 'Everyone: sponsor approval'), {});
    expect(await approversOf(id, 1)).toEqual([{ email: USER.manager, kind: 'primary' }]);
  });

  it('falls back when there is no manager, and asks every member of an approver group', async () => {
    const nina = await signIn(t.app, USER.noManager);
    const id = await requestId(nina, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), twoStage);
    expect(await approversOf(id, 1)).toEqual([
      { email: USER.approver, kind: 'fallback' },
      { email: USER.lead, kind: 'fallback' },
    ]);
  });

  it('never asks requestors to approve their own request, nor shows it to them', async () => {
    const lia = await signIn(t.app, USER.lead);
    const id = await requestId(lia, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), twoStage);
    const max = await signIn(t.app, USER.manager);
    expect((await decide(max, id, 'approve', 'Fine by me.')).status).toBe(303);
    // Stage 2 is the Approvers group (Apu and Lia): Lia is left out.
    expect(await approversOf(id, 2)).toEqual([{ email: USER.approver, kind: 'primary' }]);
    expect((await lia.get('/approvals')).text).toContain('No requests are waiting for your approval.');
    expect((await lia.get(`/approvals/${id}`)).status).toBe(404);
    expect((await decide(lia, id, 'approve')).status).toBe(404);
  });

  it('answers 404 to people who are not approvers of the request', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    const otto = await signIn(t.app, USER.other);
    expect((await otto.get(`/approvals/${id}`)).status).toBe(404);
    const res = await otto.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom((await otto.get('/approvals')).text), stage: '1', decision: 'approve' });
    expect(res.status).toBe(404);
    expect(await stateOf(id)).toBe('pendingApproval');
  });
});

describe('deciding', () => {
  let rita: Agent;
  let max: Agent;
  beforeEach(async () => {
    rita = await signIn(t.app, USER.requestor);
    max = await signIn(t.app, USER.manager);
  });

  it('approves the last stage and delivers the access', async () => {
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    t.clock.advance({ days: 2 });
    const res = await decide(max, id, 'approve');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/approvals/${id}`);
    const after = await max.get(res.headers.location);
    expect(after.text).toContain('You approved the request from Rita Requestor for Wiki editors.');
    expect(after.text).toContain('Stage 1: <strong>Approved</strong> by Max Manager');
    expect(await stateOf(id)).toBe('delivered');
    const assignment = await db('assignments').where({ request_id: id }).first('state', 'ends_at');
    expect(assignment.state).toBe('delivered');
    expect(new Date(assignment.ends_at).toISOString()).toBe('2027-02-16T09:00:00.000Z');
    expect((await mailTo(USER.requestor)).map((m) => m.subject)).toContain('You now have access to Wiki editors');
    expect((await max.get('/approvals')).text).toContain('No requests are waiting for your approval.');
    const history = await max.get('/approvals/history');
    // Each row's link names the request, not only the person: a screen reader's list of links tells them apart.
    expect(history.text).toMatch(new RegExp(`<a href="/approvals/${id}">Rita Requestor<span class="visually-hidden">: Wiki editors, decided \\d+ \\w+ \\d{4} at \\d\\d:\\d\\d UTC</span></a>`));
    expect(history.text).toContain('>Approved</strong>');
    expect((await rita.get(`/requests/${id}`)).text).toContain('Stage 1 approved by Max Manager');
  });

  it('denies with a justification the requestor sees, and the requestor can resubmit', async () => {
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    const res = await decide(max, id, 'deny', 'Use the read-only wiki instead.');
    expect(res.status).toBe(303);
    expect(await stateOf(id)).toBe('denied');
    const view = await rita.get(`/requests/${id}`);
    expect(view.text).toContain('Denied by Max Manager at stage 1');
    expect(view.text).toContain('Use the read-only wiki instead.');
    expect(view.text).toContain('>Resubmit</a>');
    const mail = (await mailTo(USER.requestor)).find((m) => m.kind === 'requestDenied')!;
    expect(mail.subject).toBe('Your request for Wiki editors was denied');
    expect(mail.text).toContain('Their reason: Use the read-only wiki instead.');
    const form = await rita.get(`/access-packages/${PKG.wiki}/request?resubmitOf=${id}`);
    expect(form.text).toContain('value="WIKI-7"');
  });

  it('requires a justification when the stage demands it', async () => {
    const otto = await signIn(t.app, USER.other);
    const id = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), twoStage);
    const res = await decide(max, id, 'approve', '');
    expect(res.status).toBe(422);
    expect(res.text).toContain('<a href="#justification">Enter a justification for your decision</a>');
    expect(res.text).toContain('<title>Error: Request from Otto Other');
    expect(await stateOf(id)).toBe('pendingApproval');
    const long = await decide(max, id, 'approve', 'z'.repeat(2001));
    expect(long.status).toBe(422);
    expect(long.text).toContain('Justification must be 2,000 characters or fewer');
  });

  it('goes through two stages: the second stage’s group is asked only after the first approves', async () => {
    const otto = await signIn(t.app, USER.other);
    const id = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), twoStage);
    const apu = await signIn(t.app, USER.approver);
    expect((await apu.get('/approvals')).text).toContain('No requests are waiting for your approval.');
    expect((await decide(max, id, 'approve', 'Manager says yes.')).status).toBe(303);
    expect(await stateOf(id)).toBe('pendingApproval');
    expect(await approversOf(id, 2)).toEqual([
      { email: USER.approver, kind: 'primary' },
      { email: USER.lead, kind: 'primary' },
    ]);
    // Otto reads that any one member of the group decides, not that all of them must.
    expect((await otto.get(`/requests/${id}`)).text).toContain('Stage 2 of 2: Apu Approver or Lia Lead must decide by');
    const pending = await apu.get('/approvals');
    expect(pending.text).toContain('Stage 2 of 2');
    const pane = await apu.get(`/approvals/${id}`);
    expect(pane.text).toContain('Manager says yes.');
    expect((await decide(apu, id, 'approve')).status).toBe(303);
    expect(await stateOf(id)).toBe('delivered');
    // The other group member sees who decided, and cannot decide again.
    const lia = await signIn(t.app, USER.lead);
    const late = await lia.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom((await lia.get('/approvals')).text), stage: '2', decision: 'deny' });
    expect(late.status).toBe(409);
    expect(late.text).toContain('This request was already approved');
    expect(late.text).toContain('Apu Approver approved it at stage 2, and the access has been delivered.');
    expect((await mailTo(USER.lead)).map((m) => m.subject)).toContain('Request approved: Production console for Otto Other');
  });

  it('tells an approver who was too late that another approver decided the stage', async () => {
    const otto = await signIn(t.app, USER.other);
    const id = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), twoStage);
    await decide(max, id, 'approve', 'ok');
    const apu = await signIn(t.app, USER.approver);
    const lia = await signIn(t.app, USER.lead);
    const liaPage = await lia.get(`/approvals/${id}`);
    expect((await decide(apu, id, 'deny', 'No.')).status).toBe(303);
    const res = await lia.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom(liaPage.text), stage: '2', decision: 'approve' });
    expect(res.status).toBe(409);
    expect(res.text).toContain('This request was already denied');
    expect(res.text).toContain('Apu Approver denied it at stage 2.');
  });

  it('refuses a decision on a canceled request, and a cancel of a decided one', async () => {
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    const page = await max.get(`/approvals/${id}`);
    const cancelPage = await rita.get(`/requests/${id}/cancel`);
    expect((await rita.post(`/requests/${id}/cancel`).type('form').send({ _csrf: csrfFrom(cancelPage.text) })).status).toBe(303);
    const res = await max.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom(page.text), stage: '1', decision: 'approve' });
    expect(res.status).toBe(409);
    expect(res.text).toContain('The requestor canceled this request');
    expect(await db('assignments').count('* as n')).toEqual([{ n: 0 }]);
  });

  it('answers a tampered decision with a 4xx and no change', async () => {
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    const token = csrfFrom((await max.get(`/approvals/${id}`)).text);
    const odd = await max.post(`/approvals/${id}`).type('form').send({ _csrf: token, stage: '1', decision: 'maybe' });
    expect(odd.status).toBe(422);
    expect(odd.text).toContain('Choose Approve or Deny');
    const array = await max.post(`/approvals/${id}`).type('form').send(`_csrf=${token}&stage=1&decision=approve&decision=deny`);
    expect(array.status).toBe(400);
    const wrongStage = await max.post(`/approvals/${id}`).type('form').send({ _csrf: token, stage: '3', decision: 'approve' });
    expect(wrongStage.status).toBe(409);
    expect((await max.post('/approvals/not-a-uuid').type('form').send({ _csrf: token })).status).toBe(404);
    expect(await stateOf(id)).toBe('pendingApproval');
  });
});

describe('time', () => {
  it('expires a request nobody decided by the deadline, tells both sides, and allows a resubmit', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    t.clock.advance({ days: 13, hours: 23 });
    expect((await sweep()).requestsExpired).toBe(0);
    t.clock.advance({ hours: 1 });
    expect((await sweep()).requestsExpired).toBe(1);
    expect(await stateOf(id)).toBe('expired');
    expect((await sweep()).requestsExpired).toBe(0);
    expect((await rita.get(`/requests/${id}`)).text).toContain('Expired: nobody decided in time');
    expect((await mailTo(USER.requestor)).map((m) => m.subject)).toContain('Your request for Wiki editors has expired');
    expect((await mailTo(USER.manager)).map((m) => m.subject)).toContain('Request has expired: Wiki editors for Rita Requestor');
    const max = await signIn(t.app, USER.manager);
    expect((await max.get('/approvals')).text).toContain('No requests are waiting for your approval.');
    expect((await rita.get(`/requests/${id}`)).text).toContain('>Resubmit</a>');
  });

  it('lets the timeout win over a decision made after the deadline, even before the sweep ran', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    const max = await signIn(t.app, USER.manager);
    const page = await max.get(`/approvals/${id}`);
    t.clock.advance({ days: 14 });
    // Opened after the deadline, before the sweep: the pane says it is expiring, not that Max is no approver.
    const late = await max.get(`/approvals/${id}`);
    expect(late.text).toContain('The deadline for stage 1 has passed, so this request can no longer be approved or denied: it is expiring.');
    expect(late.text).not.toContain('You are not an approver of this stage');
    const res = await max.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom(page.text), stage: '1', decision: 'approve' });
    expect(res.status).toBe(409);
    expect(res.text).toContain('This request has expired');
    expect(await stateOf(id)).toBe('expired');
    expect(await db('assignments').count('* as n')).toEqual([{ n: 0 }]);
  });

  it('forwards an undecided stage to the alternate approvers, while the primary approvers can still decide', async () => {
    const otto = await signIn(t.app, USER.other);
    const max = await signIn(t.app, USER.manager);
    const id = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), twoStage);
    await decide(max, id, 'approve', 'ok');
    t.clock.advance({ days: 4 });
    expect((await sweep()).requestsEscalated).toBe(1);
    expect((await sweep()).requestsEscalated).toBe(0);
    expect(await approversOf(id, 2)).toEqual([
      { email: USER.admin, kind: 'escalation' },
      { email: USER.approver, kind: 'primary' },
      { email: USER.lead, kind: 'primary' },
    ]);
    const [forwarded] = (await mailTo(USER.admin)).filter((m) => m.kind === 'requestForwarded');
    expect(forwarded.subject).toBe('Action required: Approve or deny forwarded request by 22 January 2027');
    const ada = await signIn(t.app, USER.admin);
    expect((await ada.get('/approvals')).text).toContain('Forwarded to you');
    expect((await otto.get(`/requests/${id}`)).text).toContain('Stage 2 forwarded to alternate approvers');
    const apu = await signIn(t.app, USER.approver);
    expect((await decide(apu, id, 'approve')).status).toBe(303);
    expect(await stateOf(id)).toBe('delivered');
  });

  it('asks nobody to decide a request decided between the sweep and the writing of its emails', async () => {
    // The sweep leaves its reminders and forwards as events; their emails are written right after.
    const sweepOnly = () => runSweep({ db, notifier: t.services.notifier, logger: createLogger('silent') }, t.clock.now());
    const writeEmails = () => queueDeferredNotifications(db, t.services.notifier, createLogger('silent'));
    const rita = await signIn(t.app, USER.requestor);
    const max = await signIn(t.app, USER.manager);
    const reminded = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    const otto = await signIn(t.app, USER.other);
    const forwarded = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), twoStage);
    await decide(max, forwarded, 'approve', 'ok');
    const stillWaiting = await requestId(await signIn(t.app, USER.lead), PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), { ...validWiki, 'attribute-0': 'CC-7' });
    t.clock.advance({ days: 4 });
    expect((await sweepOnly()).requestsEscalated).toBe(1);
    expect((await decide(await signIn(t.app, USER.approver), forwarded, 'deny', 'no')).status).toBe(303);
    await writeEmails();
    expect(await mailTo(USER.admin, 'requestForwarded')).toHaveLength(0);
    t.clock.advance({ days: 3 });
    expect((await sweepOnly()).approverRemindersSent).toBe(2);
    expect((await decide(max, reminded, 'approve', 'ok')).status).toBe(303);
    await writeEmails();
    // Max was reminded of Lia's request only: Rita's, which he decided meanwhile, is left out.
    const reminders = await mailTo(USER.manager, 'approvalReminder');
    expect(reminders).toHaveLength(1);
    expect(reminders[0].text).toContain(`/approvals/${stillWaiting}`);
    expect(reminders[0].text).toContain('Approve or deny the request by 29 January 2027 at 09:00 UTC.');
  });

  it('reminds the approvers once, halfway to the deadline, unless they decided or the stage forwards to alternates', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    t.clock.advance({ days: 6, hours: 23 });
    expect((await sweep()).approverRemindersSent).toBe(0);
    t.clock.advance({ hours: 1 });
    expect((await sweep()).approverRemindersSent).toBe(1);
    expect((await sweep()).approverRemindersSent).toBe(0);
    const reminders = await mailTo(USER.manager, 'approvalReminder');
    expect(reminders).toHaveLength(1);
    expect(reminders[0].subject).toBe('Action required reminder: Approve or deny the request by 29 January 2027');
    expect(reminders[0].text).toContain('Rita Requestor’s request for access to Wiki editors is still waiting for a decision, and you are an approver.');
    expect(reminders[0].text).toContain('Approve or deny the request by 29 January 2027 at 09:00 UTC.');
    expect(reminders[0].text).toContain(`http://127.0.0.1:3000/@fabrikam.test/approvals/${id}`);
    // Still undecided later: no second reminder; the deadline expires it.
    t.clock.advance({ days: 6 });
    expect((await sweep()).approverRemindersSent).toBe(0);
    expect(await mailTo(USER.manager, 'approvalReminder')).toHaveLength(1);
    expect(await stateOf(id)).toBe('pendingApproval');

    // Decided before halfway: nobody is reminded. A stage that forwards: the forward is its reminder.
    const max = await signIn(t.app, USER.manager);
    const decided = await requestId(rita, PKG.repo, await policyId(db, PKG.repo, 'Members'), {});
    await decide(await signIn(t.app, USER.approver), decided, 'approve');
    const otto = await signIn(t.app, USER.other);
    const twoStages = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), twoStage);
    await decide(max, twoStages, 'approve', 'ok');
    t.clock.advance({ days: 4 });
    const report = await sweep();
    expect(report.requestsEscalated).toBe(1);
    expect(report.approverRemindersSent).toBe(0);
    expect(await mailTo(USER.approver, 'approvalReminder')).toHaveLength(0);
    expect(await mailTo(USER.lead, 'approvalReminder')).toHaveLength(0);
  });

  /**
   * A two-stage request at stage 2, whose snapshot of approver rules names Apu (already a primary
   * approver of stage 2, through the group) as an alternate: beside Ada, or (`only`) instead of her.
   */
  async function atStage2WithApuAsAlternate(only: boolean): Promise<string> {
    const otto = await signIn(t.app, USER.other);
    const max = await signIn(t.app, USER.manager);
    const id = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), twoStage);
    await decide(max, id, 'approve', 'ok');
    const stage = await db('request_stages').where({ request_id: id, position: 2 }).first('id', 'approver_rules');
    const apu = await db('users').where({ email: USER.approver }).first('id', 'display_name');
    const rules = only ? stage.approver_rules.filter((r: { role: string }) => r.role !== 'escalation') : stage.approver_rules;
    await db('request_stages').where({ id: stage.id }).update({
      approver_rules: JSON.stringify([...rules, { role: 'escalation', type: 'user', userId: apu.id, groupId: null, name: apu.display_name }]),
    });
    t.clock.advance({ days: 4 });
    expect((await sweep()).requestsEscalated).toBe(1);
    return id;
  }
  const escalationAudit = async (id: string) => (await db('audit_log').where({ action: 'request.escalated', target_id: id }).first('details')).details;

  it('does not forward a request to an alternate who already approves the stage', async () => {
    const id = await atStage2WithApuAsAlternate(false);
    expect((await mailTo(USER.admin)).filter((m) => m.kind === 'requestForwarded')).toHaveLength(1);
    expect((await mailTo(USER.approver)).filter((m) => m.kind === 'requestForwarded')).toHaveLength(0);
    expect(await approversOf(id, 2)).toContainEqual({ email: USER.approver, kind: 'primary' });
    expect((await escalationAudit(id)).approverNames).toBe('Ada Admin');
  });

  it('says so when a stage’s alternates were all approvers of it already', async () => {
    const id = await atStage2WithApuAsAlternate(true);
    expect((await escalationAudit(id)).approverNames).toBe('its alternate approvers were already approvers of this stage');
    expect((await mailTo(USER.approver)).filter((m) => m.kind === 'requestForwarded')).toHaveLength(0);
    // Forwarded to nobody new, the stage reminds its approvers instead, once.
    for (const email of [USER.approver, USER.lead]) expect(await mailTo(email, 'approvalReminder'), email).toHaveLength(1);
    t.clock.advance({ days: 1 });
    expect((await sweep()).approverRemindersSent).toBe(0);
    expect(await mailTo(USER.approver, 'approvalReminder')).toHaveLength(1);
  });

  it('ends a request that reaches a stage nobody can approve, instead of leaving it hanging', async () => {
    const otto = await signIn(t.app, USER.other);
    const max = await signIn(t.app, USER.manager);
    const id = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), twoStage);
    const approvers = await db('groups').where({ key: 'approvers' }).first('id');
    const members = await db('group_members').where({ group_id: approvers.id }).select('*');
    await db('group_members').where({ group_id: approvers.id }).delete();
    try {
      expect((await decide(max, id, 'approve', 'ok')).status).toBe(303);
      expect(await stateOf(id)).toBe('expired');
      expect((await otto.get(`/requests/${id}`)).text).toContain('Stage 2 had nobody who could approve it');
      expect((await mailTo(USER.other)).map((m) => m.subject)).toContain('Your request for Production console has expired');
    } finally {
      await db('group_members').insert(members);
    }
  });

  it('tells the requestor when an approved request cannot be delivered, and why', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), { ...validWiki, specificPeriod: 'yes', startDate: '2027-01-16', endDate: '2027-01-17' });
    t.clock.set('2027-01-20T09:00:00Z');
    const max = await signIn(t.app, USER.manager);
    expect((await decide(max, id, 'approve')).status).toBe(303);
    expect(await stateOf(id)).toBe('deliveryFailed');
    const [mail] = (await mailTo(USER.requestor)).filter((m) => m.kind === 'requestNotDelivered');
    expect(mail.subject).toBe('Your request for Wiki editors could not be completed');
    expect(mail.text).toContain('the access would have ended before it started, because the policy’s end date or the end date you asked for has passed');
    expect(mail.text).toContain(`http://127.0.0.1:3000/@fabrikam.test/requests/${id}`);
    // Deciding it again says what became of it.
    const again = await decide(max, id, 'approve');
    expect(again.status).toBe(409);
    expect(again.text).toContain('Max Manager approved it, and the access could not be delivered.');
  });

  it('tells an approver deciding again that the approved access is scheduled to start', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), { ...validWiki, specificPeriod: 'yes', startDate: '2027-02-01', endDate: '2027-02-10' });
    const max = await signIn(t.app, USER.manager);
    expect((await decide(max, id, 'approve')).status).toBe(303);
    expect(await stateOf(id)).toBe('scheduled');
    const again = await decide(max, id, 'approve');
    expect(again.status).toBe(409);
    expect(again.text).toContain('Max Manager approved it, and the access is scheduled to start on its start date.');
  });

  it('leaves a disabled person’s ending access out of the reminders, so it never crowds out anyone else’s', async () => {
    const otto = await signIn(t.app, USER.other);
    await requestId(otto, PKG.repo, await policyId(db, PKG.repo, 'Members'), { specificPeriod: 'yes', startDate: '2027-01-15', endDate: '2027-02-10' });
    const rita = await signIn(t.app, USER.requestor);
    await requestId(rita, PKG.repo, await policyId(db, PKG.repo, 'Members'), { specificPeriod: 'yes', startDate: '2027-01-15', endDate: '2027-02-10' });
    await db('users').where({ email: USER.other }).update({ disabled_at: t.clock.now() });
    t.clock.set('2027-02-01T09:00:00Z');
    try {
      const remind = () => db.transaction((trx) => remindEndingAssignments(trx, t.clock.now(), t.services.notifier, { limit: 1 }));
      expect(await remind()).toBe(1);
      expect((await mailTo(USER.requestor)).filter((m) => m.kind === 'accessEndingSoon')).toHaveLength(1);
      // Nothing left to remind: the disabled person's access is not picked again and again.
      expect(await remind()).toBe(0);
      expect((await mailTo(USER.other)).filter((m) => m.kind === 'accessEndingSoon')).toHaveLength(0);
    } finally {
      await db('users').where({ email: USER.other }).update({ disabled_at: null });
    }
  });

  it('writes no email to a requestor whose account was disabled while their request waited', async () => {
    const kinds = async () => (await mailTo(USER.requestor)).map((m) => m.kind);
    const disabled = async (run: () => Promise<void>) => {
      await db('users').where({ email: USER.requestor }).update({ disabled_at: t.clock.now() });
      try {
        await run();
      } finally {
        await db('users').where({ email: USER.requestor }).update({ disabled_at: null });
      }
    };
    const max = await signIn(t.app, USER.manager);
    const rita = await signIn(t.app, USER.requestor);
    const denied = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    const before = await kinds();
    await disabled(async () => expect((await decide(max, denied, 'deny', 'Not now.')).status).toBe(303));
    expect(await stateOf(denied)).toBe('denied');
    expect(await kinds()).toEqual(before);

    const approved = await requestId(await signIn(t.app, USER.requestor), PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    const beforeApproval = await kinds();
    await disabled(async () => expect((await decide(max, approved, 'approve')).status).toBe(303));
    expect(await stateOf(approved)).toBe('delivered');
    expect(await kinds()).toEqual(beforeApproval);
    // Enabled, the same person is written to as before.
    await db('assignments').where({ request_id: approved }).update({ state: 'expired', ended_at: t.clock.now() });
    const third = await requestId(await signIn(t.app, USER.requestor), PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    expect((await decide(max, third, 'approve')).status).toBe(303);
    expect((await kinds()).slice(beforeApproval.length)).toEqual(['requestSubmitted', 'accessGranted']);
  });

  it('starts scheduled access on its day, reminds before the end, and ends it on time', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const res = await requestId(rita, PKG.repo, await policyId(db, PKG.repo, 'Members'), { specificPeriod: 'yes', startDate: '2027-01-20', endDate: '2027-03-10' });
    const assignment = () => db('assignments').where({ request_id: res }).first('id', 'state');
    expect((await assignment()).state).toBe('scheduled');
    const [scheduled] = (await mailTo(USER.requestor)).filter((m) => m.kind === 'accessScheduled');
    expect(scheduled.subject).toBe('Your access to Repository access starts on 20 January 2027');
    expect(scheduled.text).toContain('your access starts on 20 January 2027 at 00:00 UTC and ends on 10 March 2027 at 23:59 UTC');
    t.clock.set('2027-01-20T00:00:00Z');
    expect((await sweep()).assignmentsStarted).toBe(1);
    expect((await assignment()).state).toBe('delivered');
    expect(await stateOf(res)).toBe('delivered');
    expect(await db('assignment_grants').where({ assignment_id: (await assignment()).id }).whereNull('revoked_at').count('* as n')).toEqual([{ n: 1 }]);
    expect((await mailTo(USER.requestor)).map((m) => m.subject)).toContain('You now have access to Repository access');

    t.clock.set('2027-02-25T00:00:00Z');
    await sweep();
    await sweep();
    t.clock.set('2027-03-10T00:00:00Z');
    await sweep();
    const reminders = (await mailTo(USER.requestor)).filter((m) => m.kind === 'accessEndingSoon');
    expect(reminders.map((m) => m.subject)).toEqual(['Your access to Repository access ends on 10 March 2027', 'Your access to Repository access ends on 10 March 2027']);
    expect(reminders[0].text).toContain('request the access package again once your access has ended');

    // An end moved later (as an import does) is reminded of again.
    await db('assignments').where({ id: (await assignment()).id }).update({ ends_at: new Date('2027-03-20T12:00:00Z') });
    await sweep();
    // (Sorted: the 1-day reminder and this one were written at the same moment of the test's clock.)
    expect((await mailTo(USER.requestor)).filter((m) => m.kind === 'accessEndingSoon').map((m) => m.subject).sort()).toEqual([
      'Your access to Repository access ends on 10 March 2027',
      'Your access to Repository access ends on 10 March 2027',
      'Your access to Repository access ends on 20 March 2027',
    ]);
    await db('assignments').where({ id: (await assignment()).id }).update({ ends_at: new Date('2027-03-10T23:59:59Z') });

    t.clock.set('2027-03-11T00:00:00Z');
    expect((await sweep()).assignmentsEnded).toBe(1);
    expect((await assignment()).state).toBe('expired');
    expect(await db('assignment_grants').where({ assignment_id: (await assignment()).id }).whereNull('revoked_at').count('* as n')).toEqual([{ n: 0 }]);
    expect((await mailTo(USER.requestor)).map((m) => m.subject)).toContain('Access has ended for Repository access');
    const expiredTab = await rita.get('/access-packages/expired');
    expect(expiredTab.text).toContain('Repository access');
    expect(expiredTab.text).toContain('Access expired');
    const again = await sweep();
    expect(Object.values({ ...again, sessionsDeleted: 0 }).every((n) => n === 0)).toBe(true);
  });
});
