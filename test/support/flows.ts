import { expect } from 'vitest';
import type { Knex } from 'knex';
import { csrfFrom, type Agent } from './app.ts';

/** Opens the request form for a policy and posts it with these answers, as a browser would. */
export async function submitRequest(agent: Agent, pkg: string, policy: string, fields: Record<string, string>) {
  const form = await agent.get(`/access-packages/${pkg}/request?policy=${policy}`);
  expect(form.status).toBe(200);
  const key = /name="submissionKey" value="([^"]+)"/.exec(form.text)?.[1] ?? '';
  const version = /name="policyVersion" value="([^"]+)"/.exec(form.text)?.[1] ?? '';
  return agent.post(`/access-packages/${pkg}/request`).type('form').send({ _csrf: csrfFrom(form.text), policy, policyVersion: version, submissionKey: key, ...fields });
}

/** Submits and returns the new request's id (fails the test if the form refused it). */
export async function requestId(agent: Agent, pkg: string, policy: string, fields: Record<string, string>): Promise<string> {
  const res = await submitRequest(agent, pkg, policy, fields);
  // When the form refuses, say what it said (its error summary), not the page's head.
  const refusal = /<ul class="error-summary__list">([\s\S]*?)<\/ul>/.exec(res.text)?.[1].replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
  expect(res.status, refusal ?? res.text.slice(0, 2000)).toBe(303);
  return res.headers.location.split('/')[2];
}

/** Opens the approval pane and posts a decision from it. */
export async function decide(agent: Agent, id: string, decision: 'approve' | 'deny', justification = '') {
  const page = await agent.get(`/approvals/${id}`);
  const stage = /name="stage" value="(\d)"/.exec(page.text)?.[1] ?? '1';
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? csrfFrom((await agent.get('/approvals')).text);
  return agent.post(`/approvals/${id}`).type('form').send({ _csrf: token, stage, decision, justification });
}

export const validWiki = { 'answer-0': 'WIKI-7', 'answer-1': 'Runbooks', 'answer-2': '', 'attribute-1': '+44 20 7946 0000', justification: 'I maintain the on-call runbooks.', specificPeriod: 'no' };

export async function policyId(db: Knex, pkg: string, name: string): Promise<string> {
  return (await db('policies').where({ access_package_id: pkg, name }).first('id')).id;
}

export async function userId(db: Knex, email: string, hint = 'fabrikam.test'): Promise<string> {
  return (await db('users as u').join('directories as d', 'd.id', 'u.directory_id').where({ 'u.email': email, 'd.hint': hint }).first('u.id')).id;
}

export async function clearActivity(db: Knex): Promise<void> {
  await db('notifications').delete();
  await db('notification_events').delete();
  await db('assignment_grants').delete();
  await db('assignments').delete();
  await db('request_stage_approvers').delete();
  await db('request_stages').delete();
  await db('requests').delete();
}
