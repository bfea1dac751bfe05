import type { Knex } from 'knex';
import type { FixedClock } from '../../src/clock.ts';
import type { Database } from '../../src/db/connect.ts';
import { sweepAndQueueEmails } from '../../src/lifecycle/sweep.ts';
import { createLogger } from '../../src/log.ts';
import type { Services } from '../../src/services.ts';
import { csrfFrom, seedDirectory, type Agent } from './app.ts';
import { fabrikam, PKG, USER, type FixtureFile } from './fixtures.ts';
import { clearActivity } from './flows.ts';

export const REVIEW = {
  self: 'b1111111-1111-4111-8111-111111111111',
  manager: 'b2222222-2222-4222-8222-222222222222',
  specific: 'b3333333-3333-4333-8333-333333333333',
} as const;

/* eslint-disable @typescript-eslint/no-explicit-any */
type ReviewSpec = Record<string, any>;

/** Rita and Otto edit the wiki; Otto, Nina and Lia hold the repository's Member role, Max its Owner role. */
export const reviewAssignments = [
  { user: USER.requestor, accessPackage: PKG.wiki, policy: 'Staff: with approval', start: 'now-10d', end: 'now+20d' },
  { user: USER.other, accessPackage: PKG.wiki, policy: 'Staff: with approval', start: 'now-5d', end: 'now+25d' },
  { user: USER.other, accessPackage: PKG.repo, policy: 'Members', start: 'now-40d', end: 'now+50d' },
  { user: USER.noManager, accessPackage: PKG.repo, policy: 'Members', start: 'now-30d', end: 'now+60d' },
  { user: USER.lead, accessPackage: PKG.repo, policy: 'Members', start: 'now-20d', end: 'now+70d' },
  { user: USER.manager, accessPackage: PKG.adminOnly, policy: 'Administrators assign', start: 'now-100d' },
];

/** Last sign-ins: Otto (45 days ago) and Nina (never) are recommended Deny; everyone else Approve. */
const LAST_SIGN_IN: Record<string, string> = {
  [USER.admin]: 'now-1d',
  [USER.manager]: 'now-2d',
  [USER.requestor]: 'now-1d',
  [USER.other]: 'now-45d',
  [USER.approver]: 'now-1d',
  [USER.lead]: 'now-3d',
};

/** Everyone reviews their own Wiki editors assignment; undecided access is removed, automatically. */
export const selfReview = (o: ReviewSpec = {}): ReviewSpec => ({
  id: REVIEW.self,
  name: 'Wiki editors: self-review',
  scope: { accessPackage: PKG.wiki },
  reviewers: { type: 'self' },
  startsOn: 'now',
  durationDays: 14,
  recurrence: 'once',
  ifNoResponse: 'removeAccess',
  autoApply: true,
  requireJustification: true,
  ...o,
});

/** Managers review the Staff group (Apu for people without a manager); results wait for an administrator. */
export const managerReview = (o: ReviewSpec = {}): ReviewSpec => ({
  id: REVIEW.manager,
  name: 'Staff membership',
  scope: { group: 'staff' },
  reviewers: { type: 'manager', fallback: [USER.approver] },
  startsOn: 'now',
  durationDays: 7,
  recurrence: 'quarterly',
  ifNoResponse: 'takeRecommendations',
  autoApply: false,
  showRecommendations: true,
  ...o,
});

/** Ada and Lia review who holds roles in the Source Repository; applied automatically. */
export const specificReview = (o: ReviewSpec = {}): ReviewSpec => ({
  id: REVIEW.specific,
  name: 'Source Repository holders',
  scope: { resource: 'repo' },
  reviewers: { type: 'specific', users: [USER.admin, USER.lead] },
  startsOn: 'now',
  durationDays: 14,
  recurrence: 'monthly',
  ifNoResponse: 'noChange',
  autoApply: true,
  requireJustification: true,
  showRecommendations: true,
  ...o,
});

export function reviewFixture(reviews: ReviewSpec[]): FixtureFile {
  const file = fabrikam();
  file.users = file.users.map((u) => (LAST_SIGN_IN[u.email] ? { ...u, lastSignIn: LAST_SIGN_IN[u.email] } : u));
  file.assignments = reviewAssignments.map((a) => ({ ...a }));
  file.accessReviews = reviews;
  return file;
}

/** Back to the fixture's state: no instances, the fixture's assignments and memberships, then these reviews. */
export async function resetReviews(database: Database, clock: FixedClock, reviews: ReviewSpec[]): Promise<void> {
  await database.db('access_review_instances').delete();
  await clearActivity(database.db);
  await seedDirectory(database, reviewFixture(reviews), clock);
}

export function sweeper(db: Knex, services: Services, clock: FixedClock) {
  return () => sweepAndQueueEmails({ db, notifier: services.notifier, logger: createLogger('silent') }, clock.now());
}

export async function instanceOf(db: Knex, reviewId: string): Promise<{ id: string; state: string; starts_at: Date; ends_at: Date; ended_at: Date | null; applied_at: Date | null }> {
  return db('access_review_instances').where({ access_review_id: reviewId }).orderBy('starts_at', 'desc').first('*');
}

export async function itemId(db: Knex, instanceId: string, email: string): Promise<string> {
  return (await db('access_review_items as it').join('users as u', 'u.id', 'it.subject_user_id').where({ 'it.instance_id': instanceId, 'u.email': email }).first('it.id')).id;
}

/** Opens the item and posts a decision from its form, as a browser without JavaScript would. */
export async function decideItem(agent: Agent, instanceId: string, item: string, decision: string, justification = '') {
  const page = await agent.get(`/access-reviews/${instanceId}/items/${item}`);
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? csrfFrom((await agent.get('/access-reviews')).text);
  return agent.post(`/access-reviews/${instanceId}/items/${item}`).type('form').send({ _csrf: token, decision, justification });
}

export async function liveAssignment(db: Knex, email: string, pkg: string): Promise<{ id: string; state: string; end_reason: string | null } | undefined> {
  return db('assignments as a')
    .join('users as u', 'u.id', 'a.user_id')
    .where({ 'u.email': email, 'a.access_package_id': pkg })
    .orderBy('a.created_at', 'desc')
    .first('a.id', 'a.state', 'a.end_reason');
}

export async function isMember(db: Knex, email: string, groupKey: string): Promise<boolean> {
  return Boolean(
    await db('group_members as gm').join('users as u', 'u.id', 'gm.user_id').join('groups as g', 'g.id', 'gm.group_id').where({ 'u.email': email, 'g.key': groupKey }).first('gm.user_id'),
  );
}
