import type { Request } from 'express';
import type { Actor } from '../audit/audit.ts';

/** The audit actor for a web request: the signed-in person (or anonymous) with address and user agent. */
export function actorOf(req: Request): Actor {
  return {
    userId: req.user?.id ?? null,
    label: req.user?.email ?? 'anonymous',
    directoryId: req.user?.directory.id ?? null,
    ip: req.ip ?? null,
    userAgent: req.get('User-Agent') ?? null,
  };
}
