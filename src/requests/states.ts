export const REQUEST_STATES = [
  'submitted', 'pendingApproval', 'approved', 'delivering', 'delivered', 'scheduled',
  'denied', 'expired', 'canceled', 'deliveryFailed', 'partiallyDelivered',
] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

/** Still waiting for something: at most one of these per person and package (a unique index enforces it). */
export const OPEN_STATES: RequestState[] = ['submitted', 'pendingApproval', 'approved', 'delivering'];
/**
 * SQL condition: the request `alias` is open. Written into the text, so a kept plan can use the
 * partial index requests_one_open (as values, the states kept it from it).
 */
export const isOpenSql = (alias: string) => `${alias}.state in (${OPEN_STATES.map((s) => `'${s}'`).join(', ')})`;

export const STATE_LABELS: Record<RequestState, string> = {
  submitted: 'Submitted',
  pendingApproval: 'Pending approval',
  approved: 'Approved',
  delivering: 'Delivering',
  delivered: 'Delivered',
  scheduled: 'Scheduled',
  denied: 'Denied',
  expired: 'Expired',
  canceled: 'Canceled',
  deliveryFailed: 'Delivery failed',
  partiallyDelivered: 'Partially delivered',
};

/** The tag's style; the label always says the state in words. */
export function stateTone(state: RequestState): 'pending' | 'done' | 'ended' | 'refused' {
  if (state === 'delivered') return 'done';
  if (state === 'denied' || state === 'deliveryFailed') return 'refused';
  if (state === 'expired' || state === 'canceled' || state === 'partiallyDelivered') return 'ended';
  return 'pending';
}

export const canCancel = (state: RequestState) => state === 'pendingApproval';
export const canResubmit = (state: RequestState) => state === 'denied' || state === 'expired';

export const REQUEST_TYPE_LABELS: Record<string, string> = {
  userAdd: 'Request for access',
  userExtend: 'Request to extend access',
  userRemove: 'Request to remove access',
  adminAdd: 'Assigned by an administrator',
  adminRemove: 'Removed by an administrator',
  systemRemove: 'Removed by the system',
};
