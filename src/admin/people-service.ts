import type { Knex } from 'knex';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { Clock } from '../clock.ts';
import { toPage, type Page, type PageRequest } from '../shared/keyset.ts';
import { auditAboutUser } from './audit-data.ts';
import { summarize } from './audit-service.ts';
import {
  assignmentsOfUser,
  groupOf,
  membersOf,
  requestsOfUser,
  searchGroups,
  searchUsers,
  unlinkSsoIdentity,
  userDetails,
  type GroupRow,
  type UserRow,
} from './people-data.ts';
import { adminNotFound, requireAdministrator, type AdminScope } from './scope.ts';

const PAGE_SIZE = 25;
const HISTORY_LIMIT = 100;
const AUDIT_LIMIT = 25;

/** Users and groups of the directory, for administrators: find a person and see what they hold, asked for and did. */
export function createPeopleAdmin(deps: { db: Knex; clock: Clock }) {
  const { db, clock } = deps;

  return {
    async users(scope: AdminScope, text: string, page: PageRequest): Promise<Page<UserRow>> {
      requireAdministrator(scope);
      const rows = await searchUsers(db, scope.directoryId, text, page, PAGE_SIZE);
      return toPage(rows, PAGE_SIZE, page, (r) => [r.sortName, r.id]);
    },

    async user(scope: AdminScope, id: string) {
      requireAdministrator(scope);
      const user = await userDetails(db, scope.directoryId, id);
      if (!user) throw adminNotFound();
      const [live, past, requests, audit] = [
        await assignmentsOfUser(db, id, true, HISTORY_LIMIT),
        await assignmentsOfUser(db, id, false, HISTORY_LIMIT),
        await requestsOfUser(db, id, HISTORY_LIMIT),
        await auditAboutUser(db, scope.directoryId, id, AUDIT_LIMIT),
      ];
      return { user, live, past, requests, audit: audit.map((a) => ({ ...a, id: String(a.id), summary: summarize(a.details ?? {}), detailsJson: JSON.stringify(a.details ?? {}, null, 2) })), limit: HISTORY_LIMIT };
    },

    /** Unlinks a person from their single sign-on identity (their account at the provider was replaced, say). */
    async unlinkSso(scope: AdminScope, id: string, actor: Actor): Promise<{ email: string; wasLinked: boolean }> {
      requireAdministrator(scope);
      return db.transaction(async (trx) => {
        const was = await unlinkSsoIdentity(trx, scope.directoryId, id);
        if (!was) throw adminNotFound();
        if (was.subject) {
          await recordAudit(trx, actor, {
            action: 'user.ssoUnlinked', at: clock.now(), directoryId: scope.directoryId, targetType: 'user', targetId: id,
            details: { userEmail: was.email, issuer: was.issuer, subject: was.subject },
          });
        }
        return { email: was.email, wasLinked: Boolean(was.subject) };
      });
    },

    async groups(scope: AdminScope, text: string, page: PageRequest): Promise<Page<GroupRow>> {
      requireAdministrator(scope);
      const rows = await searchGroups(db, scope.directoryId, text, page, PAGE_SIZE);
      return toPage(rows, PAGE_SIZE, page, (r) => [r.sortName, r.id]);
    },

    async group(scope: AdminScope, id: string, page: PageRequest) {
      requireAdministrator(scope);
      const group = await groupOf(db, scope.directoryId, id);
      if (!group) throw adminNotFound();
      const rows = await membersOf(db, id, page, PAGE_SIZE);
      return { group, page: toPage(rows, PAGE_SIZE, page, (r) => [r.sortName, r.id]) };
    },
  };
}

export type PeopleAdmin = ReturnType<typeof createPeopleAdmin>;
