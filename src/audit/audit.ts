import type { Knex } from 'knex';

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
