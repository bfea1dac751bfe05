import type { TimelineEntry } from './data.ts';

export interface TimelineItem {
  at: Date;
  title: string;
  detail: string | null;
}

const who = (e: TimelineEntry) => e.actorName ?? (e.actorLabel && !e.actorLabel.includes('@') ? 'Portico' : e.actorLabel) ?? 'Portico';
const str = (v: unknown) => (typeof v === 'string' && v ? v : null);

/** A request's audit entries in words, for its History. */
export function describeTimeline(entries: TimelineEntry[]): TimelineItem[] {
  return entries.map((e) => {
    const d = e.details ?? {};
    switch (e.action) {
      case 'request.submitted':
        return { at: e.at, title: d.resubmits ? `Resubmitted by ${who(e)}` : `Submitted by ${who(e)}`, detail: str(d.policyName) ? `Policy: ${d.policyName}` : null };
      case 'request.stageApproved':
        return { at: e.at, title: `Stage ${d.stage} approved by ${who(e)}`, detail: str(d.justification) };
      case 'request.denied':
        return { at: e.at, title: `Denied by ${who(e)} at stage ${d.stage}`, detail: str(d.justification) };
      case 'request.escalated':
        return { at: e.at, title: `Stage ${d.stage} forwarded to alternate approvers`, detail: str(d.approverNames) };
      case 'request.expired':
        return d.reason
          ? { at: e.at, title: `Expired: nobody could approve stage ${d.stage}`, detail: str(d.reason) }
          : { at: e.at, title: 'Expired: nobody decided in time', detail: d.stage ? `Stage ${d.stage} had no decision by its deadline.` : null };
      case 'request.canceled':
        return { at: e.at, title: `Canceled by ${who(e)}`, detail: str(d.reason) };
      case 'request.delivered':
        return { at: e.at, title: 'Access delivered', detail: null };
      case 'request.scheduled':
        return { at: e.at, title: 'Access scheduled', detail: null };
      case 'request.adminAssigned':
        return { at: e.at, title: `Assigned by ${who(e)}`, detail: [str(d.policyName) ? `Policy: ${d.policyName}` : null, str(d.justification)].filter(Boolean).join('. ') || null };
      case 'request.adminRemoved':
        return { at: e.at, title: `Access removed by ${who(e)}`, detail: null };
      case 'request.accessEnded':
        return { at: e.at, title: 'Access ended', detail: d.reason === 'removedByAdmin' ? 'Removed by an administrator.' : d.reason === 'review' ? 'Removed after an access review.' : null };
      case 'request.deliveryFailed':
        return { at: e.at, title: 'Delivery failed', detail: str(d.reason) };
      default:
        return { at: e.at, title: e.action, detail: null };
    }
  });
}
