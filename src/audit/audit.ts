import type { Knex } from 'knex';
import { jsonParameter } from '../db/json.ts';

/** Who did something and from where; routes build it from the request, the sweep and CLI name themselves. */
export interface Actor {
  userId: string | null;
  label: string;
  directoryId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

export const systemActor = (label: string): Actor => ({ userId: null, label });

export interface AuditEntry {
  action: string;
  targetType?: string;
  targetId?: string;
  directoryId?: string | null;
  details?: Record<string, unknown>;
  at: Date;
}

/** Appends to the audit log inside the caller's transaction, so the entry exists exactly when the change does. */
export async function recordAudit(trx: Knex | Knex.Transaction, actor: Actor, entry: AuditEntry): Promise<void> {
  await trx('audit_log').insert({
    directory_id: entry.directoryId ?? actor.directoryId ?? null,
    at: entry.at,
    actor_id: actor.userId,
    actor_label: actor.label,
    action: entry.action,
    target_type: entry.targetType ?? null,
    target_id: entry.targetId ?? null,
    ip: actor.ip ?? null,
    user_agent: actor.userAgent?.slice(0, 500) ?? null,
    details: JSON.stringify(entry.details ?? {}),
  });
}

export interface BulkAuditEntry {
  action: string;
  targetType: string;
  targetId: string;
  directoryId: string;
  details?: Record<string, unknown>;
}

/** Entries per statement: each is one JSON parameter, however many rows it carries. */
const AUDIT_ROWS_PER_STATEMENT = 5000;

/** Appends many entries by one actor at one moment (the sweep writes thousands at a time), a statement per few thousand. */
export async function recordAuditMany(trx: Knex, actor: Actor, entries: BulkAuditEntry[], at: Date): Promise<void> {
  for (let i = 0; i < entries.length; i += AUDIT_ROWS_PER_STATEMENT) {
    const rows = entries.slice(i, i + AUDIT_ROWS_PER_STATEMENT).map((e) => ({
      directory_id: e.directoryId,
      action: e.action,
      target_type: e.targetType,
      target_id: e.targetId,
      details: e.details ?? {},
    }));
    await trx.raw(
      `insert into audit_log (directory_id, at, actor_id, actor_label, action, target_type, target_id, details)
       select e.directory_id, ?::timestamptz, ?::uuid, ?::text, e.action, e.target_type, e.target_id, e.details
       from json_to_recordset(?::json) as e(directory_id uuid, action text, target_type text, target_id text, details jsonb)`,
      [at, actor.userId, actor.label, jsonParameter(rows)],
    );
  }
}
