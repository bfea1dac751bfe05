import type { Knex } from 'knex';

/**
 * Indexes for the pages at scale (see README, Performance). Plain SQL for PostgreSQL 15+ and PGlite,
 * one statement each; no question marks (knex would read them as bindings).
 */
const statements: string[] = [
  // Approvals and the Overview's count: from an approver's open items to their pending stages and
  // requests, each probe answered from the index alone (no table read per request waiting).
  `create index request_stages_pending on request_stages (id) include (request_id, position, due_at) where state = 'pending'`,
  `create index requests_pending on requests (id) include (target_user_id, access_package_id, submitted_at) where state = 'pendingApproval'`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
