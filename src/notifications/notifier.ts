import type { Knex } from 'knex';

/**
 * What the product tells people, written to the outbox inside the transaction of the change that
 * caused it. (Messages are rendered and delivered by the notifications module.)
 */
export interface Notifier {
  requestSubmitted(trx: Knex, requestId: string): Promise<void>;
  approvalNeeded(trx: Knex, requestId: string, stage: number, approverIds: string[], dueAt: Date): Promise<void>;
}
