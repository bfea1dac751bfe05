import type { Knex } from 'knex';

export interface Breach {
  rule: string;
  count: number;
  /** A few of the offending rows, to start looking. */
  examples: string[];
}

interface Check {
  rule: string;
  /** Returns the ids that break the rule. */
  sql: string;
}

/**
 * The invariants of Portico's data. Each is one query that lists offenders, so the checker stays
 * cheap on a large database (every query is driven by indexes or one pass over a table).
 */
const CHECKS: Check[] = [
  {
    rule: 'a package lists what its resource roles give (kept by triggers)',
    sql: `select p.id::text as offender from access_packages p where p.resources <> access_package_resources(p.id)`,
  },
  {
    rule: 'a package says whom its policies open it to (kept by triggers)',
    sql: `select p.id::text as offender from access_packages p where p.open_to is distinct from access_package_open_to(p.id)`,
  },
  {
    rule: 'every Delivered or Scheduled request has its assignment',
    sql: `select r.id::text as offender from requests r
          where r.state in ('delivered', 'scheduled') and r.type in ('userAdd', 'userExtend', 'adminAdd')
            and not exists (select 1 from assignments a where a.request_id = r.id)`,
  },
  {
    rule: 'every assignment made from a request points to a request that was delivered (or canceled, when the access was removed before it started)',
    sql: `select a.id::text as offender from assignments a
          left join requests r on r.id = a.request_id
          where a.origin = 'request' and (r.id is null or (r.state not in ('delivered', 'scheduled')
            and not (r.state = 'canceled' and a.end_reason = 'removedByAdmin'
              and not exists (select 1 from assignment_grants g where g.assignment_id = a.id))))`,
  },
  {
    rule: 'every assignment made by an administrator has its request record',
    sql: `select a.id::text as offender from assignments a
          where a.origin = 'admin' and a.request_id is null`,
  },
  {
    rule: 'a delivered assignment holds a grant for every resource role of its package',
    sql: `select distinct a.id::text as offender from assignments a
          join access_package_resource_roles p on p.access_package_id = a.access_package_id
          where a.state = 'delivered'
            and not exists (select 1 from assignment_grants g where g.assignment_id = a.id and g.resource_role_id = p.resource_role_id and g.revoked_at is null)`,
  },
  {
    rule: 'an assignment that is not delivered holds no live grant',
    sql: `select distinct a.id::text as offender from assignments a join assignment_grants g on g.assignment_id = a.id
          where a.state <> 'delivered' and g.revoked_at is null`,
  },
  {
    rule: 'no two open requests for one person and package',
    sql: `select target_user_id::text || ' ' || access_package_id::text as offender from requests
          where state in ('submitted', 'pendingApproval', 'approved', 'delivering')
          group by target_user_id, access_package_id having count(*) > 1`,
  },
  {
    rule: 'no two live assignments of one package to one person',
    sql: `select user_id::text || ' ' || access_package_id::text as offender from assignments
          where state in ('scheduled', 'delivered')
          group by user_id, access_package_id having count(*) > 1`,
  },
  {
    rule: 'a request pending approval has exactly one pending stage, its current stage',
    sql: `select r.id::text as offender from requests r
          where r.state = 'pendingApproval'
            and (select count(*) from request_stages s where s.request_id = r.id and s.state = 'pending' and s.position = r.current_stage) <> 1`,
  },
  {
    rule: 'a request that is no longer pending has no pending stage and no approver still asked',
    sql: `select distinct r.id::text as offender from requests r join request_stages s on s.request_id = r.id
          left join request_stage_approvers a on a.stage_id = s.id and a.open
          where r.state <> 'pendingApproval' and (s.state in ('pending', 'waiting') or a.user_id is not null)`,
  },
  {
    // The Overview counts an approver's open items alone (approvals/data.ts): this is what makes that count right.
    rule: 'an approver still asked is asked for the pending stage, by its deadline, and never for their own request',
    sql: `select distinct r.id::text as offender from request_stage_approvers a
          join request_stages s on s.id = a.stage_id join requests r on r.id = s.request_id
          where a.open and r.state = 'pendingApproval'
            and (s.state <> 'pending' or a.due_at is distinct from s.due_at or a.user_id = r.target_user_id)`,
  },
  {
    rule: 'a decided stage records who decided and when',
    sql: `select id::text as offender from request_stages
          where state in ('approved', 'denied') and (decided_at is null or decided_by_id is null and decision is null)`,
  },
  {
    rule: 'a denied request has a denied stage',
    sql: `select r.id::text as offender from requests r where r.state = 'denied'
            and not exists (select 1 from request_stages s where s.request_id = r.id and s.state = 'denied')`,
  },
  {
    rule: 'every decision is in the audit log once',
    sql: `select s.id::text as offender from request_stages s
          where s.state in ('approved', 'denied') and s.decided_by_id is not null
            and (select count(*) from audit_log l where l.target_type = 'request' and l.target_id = s.request_id::text
                 and l.action in ('request.stageApproved', 'request.denied') and (l.details ->> 'stage')::int = s.position) <> 1`,
  },
  {
    rule: 'every delivered request is in the audit log as delivered',
    sql: `select r.id::text as offender from requests r
          where r.state = 'delivered' and r.type = 'userAdd'
            and not exists (select 1 from audit_log l where l.target_type = 'request' and l.target_id = r.id::text and l.action = 'request.delivered')`,
  },
  {
    rule: 'an email marked sent is not leased for sending again',
    sql: `select id::text as offender from notifications where sent_at is not null and locked_until is not null`,
  },
  {
    rule: 'an ended assignment says when and why it ended',
    sql: `select id::text as offender from assignments where state = 'expired' and (ended_at is null or end_reason is null)`,
  },
  {
    rule: 'a reviewer’s progress in a review counts their items',
    sql: `select coalesce(m.user_id, c.user_id)::text || ' ' || coalesce(m.instance_id, c.instance_id)::text as offender
          from access_review_progress m
          full join (select x.user_id, it.instance_id, count(*)::int as total, count(it.decision)::int as decided,
                            (count(*) filter (where it.decision is null and it.recommendation is not null))::int as recommendable
                     from access_review_item_reviewers x join access_review_items it on it.id = x.item_id
                     group by x.user_id, it.instance_id) c on c.user_id = m.user_id and c.instance_id = m.instance_id
          where (m.total, m.decided, m.recommendable) is distinct from (c.total, c.decided, c.recommendable)`,
  },
];

export async function checkIntegrity(db: Knex): Promise<Breach[]> {
  const breaches: Breach[] = [];
  for (const check of CHECKS) {
    const { rows } = (await db.raw(`select count(*) over () as total, x.offender from (${check.sql}) x limit 5`)) as { rows: { total: number; offender: string }[] };
    if (rows.length > 0) breaches.push({ rule: check.rule, count: Number(rows[0].total), examples: rows.map((r) => r.offender) });
  }
  return breaches;
}

export const INTEGRITY_RULES = CHECKS.map((c) => c.rule);
