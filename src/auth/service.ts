import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { verifyPassword } from './password.ts';
import { accountKey, addressKey, clearFailures, releaseAttempt, reserveAttempt, THROTTLE } from './throttle.ts';
import { findSignInCandidates, loadCurrentUser, readSessionWithPerson, recordSignIn, directoryNames } from './data.ts';
import type { CurrentUser } from './current-user.ts';

export type PasswordSignInResult =
  | { kind: 'failed' }
  /** Too many failures for this account or from this address: refused without checking the password. */
  | { kind: 'throttled'; until: Date }
  | { kind: 'signedIn'; userId: string }
  /** The password is right in several directories: the person chooses one of these accounts. */
  | { kind: 'chooseDirectory'; userIds: string[] };

export function createAuthService(deps: { db: Knex; clock: Clock }) {
  const { db, clock } = deps;

  /**
   * A refused sign-in goes into the audit log of each directory where the email has an account (so
   * its administrators see failures and lockouts), or into no directory's when it has none.
   */
  async function auditInDirectories(actor: Actor, action: string, candidates: { directoryId: string }[], details: Record<string, unknown>, at = clock.now()) {
    const directories = [...new Set(candidates.map((c) => c.directoryId))];
    for (const directoryId of directories.length ? directories : [null]) await recordAudit(db, actor, { action, at, directoryId, details });
  }

  return {
    async signInWithPassword(email: string, password: string, actor: Actor, directoryHint?: string): Promise<PasswordSignInResult> {
      const account = { key: accountKey(email), limit: THROTTLE.accountFailures };
      const address = { key: addressKey(actor.ip ?? undefined), limit: THROTTLE.addressFailures };
      // Counted as a failure before the password is checked, so that attempts sent at once cannot
      // outrun the count; a successful sign-in gives its attempt back below.
      const until = await reserveAttempt(db, [account, address]);
      const candidates = (await findSignInCandidates(db, email, directoryHint)).filter((c) => c.signIn?.password === true);
      if (until) {
        await auditInDirectories(actor, 'signIn.throttled', candidates, { email: email.toLowerCase().slice(0, 320) });
        return { kind: 'throttled', until };
      }
      const matching: string[] = [];
      if (candidates.length === 0) await verifyPassword(password, null); // same time as a real check
      for (const c of candidates) if (await verifyPassword(password, c.passwordHash)) matching.push(c.id);
      const at = clock.now();
      if (matching.length === 0) {
        await auditInDirectories(actor, 'signIn.failed', candidates, { email: email.toLowerCase().slice(0, 320), method: 'password' }, at);
        return { kind: 'failed' };
      }
      await clearFailures(db, account.key);
      await releaseAttempt(db, address.key, address.limit);
      if (matching.length > 1) return { kind: 'chooseDirectory', userIds: matching };
      return { kind: 'signedIn', userId: matching[0] };
    },

    /** Called once the session is established for this user. */
    async completeSignIn(userId: string, actor: Actor, method: string): Promise<void> {
      const at = clock.now();
      await db.transaction(async (trx) => {
        await recordSignIn(trx, userId, at);
        const user = await trx('users').where({ id: userId }).first('directory_id', 'email');
        await recordAudit(trx, { ...actor, userId, label: user.email }, {
          action: 'signIn.succeeded', at, directoryId: user.directory_id, targetType: 'user', targetId: userId, details: { method },
        });
      });
    },

    async recordSignOut(user: CurrentUser, actor: Actor): Promise<void> {
      await recordAudit(db, actor, { action: 'signOut', at: clock.now(), directoryId: user.directory.id, targetType: 'user', targetId: user.id });
    },

    async recordSignInFailure(actor: Actor, directoryId: string, details: Record<string, unknown>): Promise<void> {
      await recordAudit(db, actor, { action: 'signIn.failed', at: clock.now(), directoryId, details });
    },

    async directoryByHint(hint: string): Promise<{ id: string; hint: string; name: string; signIn: { password?: boolean; oidc?: unknown } } | null> {
      const row = await db('directories').where({ hint: hint.slice(0, 200) }).first('id', 'hint', 'name', 'sign_in');
      return row ? { id: row.id, hint: row.hint, name: row.name, signIn: row.sign_in } : null;
    },

    loadCurrentUser: (userId: string) => loadCurrentUser(db, userId),
    readSession: (sid: string, now: Date) => readSessionWithPerson(db, sid, now),
    directoriesOf: (userIds: string[]) => directoryNames(db, userIds),
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
