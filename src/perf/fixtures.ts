import type { Knex } from 'knex';

/** The people and objects the benchmark drives, found in whatever directory was loaded. */
export interface BenchFixtures {
  directoryId: string;
  requestor: { email: string; requests: number; paneRequestId: string };
  approver: { email: string; pending: number };
  /** Approvers who decide in the benchmark, each with requests only they are asked to decide here. */
  deciders: { email: string; pending: { requestId: string; stage: number }[] }[];
  reviewer: { email: string; instanceId: string; items: number } | null;
  submitters: string[];
  packages: { packageId: string; policyId: string }[];
}

export async function findFixtures(db: Knex, hint: string, options: { submitters: number; packages: number; decisions: number }): Promise<BenchFixtures> {
  const directory = await db('directories').where({ hint }).first('id');
  if (!directory) throw new Error(`no directory ${hint} in the database`);
  const dir = directory.id as string;

  // The person with the longest request history, and their latest request that went through approval.
  const requestor = await db('requests as r')
    .join('users as u', 'u.id', 'r.target_user_id')
    .where('u.directory_id', dir)
    .whereNull('u.disabled_at')
    .groupBy('u.id', 'u.email')
    .orderBy('n', 'desc')
    .first('u.id', 'u.email', db.raw('count(*)::int as n'));
  const pane = await db('requests').where({ target_user_id: requestor.id }).whereNotNull('current_stage').orderBy('submitted_at', 'desc').first('id');

  // The approvers with the most requests waiting for them: the first reads Approvals, the others
  // decide (several, so that the benchmark does not run out of requests to decide).
  const approvers = await db('request_stage_approvers as a')
    .join('request_stages as s', 's.id', 'a.stage_id')
    .join('requests as r', 'r.id', 's.request_id')
    .join('users as u', 'u.id', 'a.user_id')
    .where({ 'a.open': true, 's.state': 'pending', 'r.state': 'pendingApproval', 'u.directory_id': dir })
    .whereRaw('r.target_user_id <> a.user_id')
    .whereNull('u.disabled_at')
    .groupBy('a.user_id', 'u.email')
    .orderBy('n', 'desc')
    .limit(30)
    .select('a.user_id', 'u.email', db.raw('count(*)::int as n'));
  if (approvers.length < 2) throw new Error('the directory has fewer than two approvers with pending requests');
  const taken = new Set<string>();
  const deciders = [];
  for (const decider of approvers.slice(1)) {
    if (taken.size >= options.decisions) break;
    const pending: { requestId: string; stage: number }[] = await db('request_stage_approvers as a')
      .join('request_stages as s', 's.id', 'a.stage_id')
      .join('requests as r', 'r.id', 's.request_id')
      .where({ 'a.user_id': decider.user_id, 'a.open': true, 's.state': 'pending', 'r.state': 'pendingApproval' })
      .whereRaw('r.target_user_id <> a.user_id')
      .whereRaw(`s.due_at > now() + interval '1 hour'`)
      .orderBy('s.due_at', 'desc')
      .select('r.id as requestId', 's.position as stage');
    // A request several of them may decide is decided by the first only: the others would get a 409.
    deciders.push({ email: decider.email as string, pending: pending.filter((p) => !taken.has(p.requestId)) });
    for (const p of pending) taken.add(p.requestId);
  }

  const reviewer = await db('access_review_item_reviewers as x')
    .join('access_review_items as it', 'it.id', 'x.item_id')
    .join('access_review_instances as i', 'i.id', 'it.instance_id')
    .join('users as u', 'u.id', 'x.user_id')
    .where({ 'i.state': 'active', 'u.directory_id': dir })
    .whereNull('u.disabled_at')
    .groupBy('x.user_id', 'u.email', 'it.instance_id')
    .orderBy('n', 'desc')
    .first('u.email', 'it.instance_id', db.raw('count(*)::int as n'));

  // Packages any member may request at once with no questions, and members who have neither
  // access to nor a request for any of them: every (submitter, package) pair is a request the
  // rules accept. Members with no request and no access at all come first; at five times entra,
  // where almost everyone has some access, the others make up the number.
  const packages = await db('access_packages as p')
    .join('catalogs as c', 'c.id', 'p.catalog_id')
    .join('policies as pol', 'pol.access_package_id', 'p.id')
    .where({ 'p.directory_id': dir, 'p.hidden': false, 'c.enabled': true, 'pol.accept_requests': true, 'pol.require_justification': false })
    .whereIn('pol.requestor_scope', ['allMembers', 'allUsers'])
    .whereRaw(`pol.questions = '[]'::jsonb and pol.requestor_attributes = '[]'::jsonb and pol.expiration_kind <> 'onDate'`)
    .whereNotExists(db('policy_stages as s').whereRaw('s.policy_id = pol.id').select(db.raw('1')))
    .whereNotExists(db('access_package_incompatibles as i').whereRaw('i.access_package_id = p.id or i.incompatible_id = p.id').select(db.raw('1')))
    .whereRaw('(select count(*) from policies o where o.access_package_id = p.id) = 1')
    .orderBy('p.id')
    .limit(options.packages)
    .select('p.id as packageId', 'pol.id as policyId');
  const packageIds = packages.map((p) => p.packageId as string);
  const submitters = await db('users as u')
    .where({ 'u.directory_id': dir, 'u.type': 'member', 'u.is_admin': false })
    .whereNull('u.disabled_at')
    .whereNotExists(db('requests as r').whereRaw('r.target_user_id = u.id and r.access_package_id = any(?::uuid[])', [packageIds]).select(db.raw('1')))
    .whereNotExists(db('assignments as a').whereRaw('a.user_id = u.id and a.access_package_id = any(?::uuid[])', [packageIds]).select(db.raw('1')))
    .orderByRaw('exists (select 1 from requests r where r.target_user_id = u.id) or exists (select 1 from assignments a where a.user_id = u.id), u.email')
    .limit(options.submitters)
    .pluck('u.email');

  return {
    directoryId: dir,
    requestor: { email: requestor.email, requests: requestor.n, paneRequestId: pane.id },
    approver: { email: approvers[0].email, pending: approvers[0].n },
    deciders,
    reviewer: reviewer ? { email: reviewer.email, instanceId: reviewer.instance_id, items: reviewer.n } : null,
    submitters,
    packages,
  };
}
