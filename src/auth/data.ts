import type { Knex } from 'knex';
import type { CurrentUser } from './current-user.ts';
import type { StoredSession } from '../web/session-store.ts';
import { statement } from '../db/statement.ts';

export interface SignInCandidate {
  id: string;
  passwordHash: string | null;
  directoryId: string;
  directoryHint: string;
  directoryName: string;
  signIn: { password?: boolean; oidc?: unknown };
}

/** Active accounts with this email, in every directory (or one, when a directory hint is given). */
export async function findSignInCandidates(db: Knex, email: string, directoryHint?: string): Promise<SignInCandidate[]> {
  const q = db('users as u')
    .join('directories as d', 'd.id', 'u.directory_id')
    .where('u.email', email.toLowerCase())
    .whereNull('u.disabled_at')
    .select(
      'u.id',
      'u.password_hash as passwordHash',
      'd.id as directoryId',
      'd.hint as directoryHint',
      'd.name as directoryName',
      'd.sign_in as signIn',
    )
    .orderBy('d.name');
  if (directoryHint) q.where('d.hint', directoryHint);
  return q;
}

export type SsoLink = 'linked' | 'otherIdentity' | 'identityTaken';

/**
 * Links an account to the provider's subject on its first single sign-on (or its first with this
 * issuer), and says whether this subject is the account's: 'otherIdentity' when the account is
 * linked to another subject of the same issuer, 'identityTaken' when the subject is another
 * account's. A conditional update, so two first sign-ins at once cannot both link.
 */
export async function linkSsoIdentity(db: Knex, userId: string, issuer: string, subject: string): Promise<SsoLink> {
  try {
    await db('users')
      .where({ id: userId })
      .where((q) => q.whereNull('sso_subject').orWhereNot('sso_issuer', issuer))
      .update({ sso_issuer: issuer, sso_subject: subject });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return 'identityTaken';
    throw err;
  }
  const row = await db('users').where({ id: userId }).first('sso_issuer', 'sso_subject');
  return row?.sso_issuer === issuer && row.sso_subject === subject ? 'linked' : 'otherIdentity';
}

/** The person as CurrentUser, from `users as u` joined to `directories as d`. */
const currentUserColumns = (db: Knex) => [
  'u.id',
  'u.email',
  'u.display_name',
  'u.type',
  'u.is_admin',
  'd.id as directory_id',
  'd.hint as directory_hint',
  'd.name as directory_name',
  db.raw('exists (select 1 from catalog_owners co where co.user_id = u.id) as owns_catalogs'),
];

interface CurrentUserRow {
  id: string;
  email: string;
  display_name: string;
  type: CurrentUser['type'];
  is_admin: boolean;
  directory_id: string;
  directory_hint: string;
  directory_name: string;
  owns_catalogs: boolean;
}

function toCurrentUser(row: CurrentUserRow): CurrentUser {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    type: row.type,
    isAdmin: row.is_admin,
    ownsCatalogs: row.owns_catalogs,
    directory: { id: row.directory_id, hint: row.directory_hint, name: row.directory_name },
  };
}

export async function loadCurrentUser(db: Knex, userId: string): Promise<CurrentUser | null> {
  const row = await db('users as u')
    .join('directories as d', 'd.id', 'u.directory_id')
    .where('u.id', userId)
    .whereNull('u.disabled_at')
    .first(currentUserColumns(db));
  return row ? toCurrentUser(row) : null;
}

/** Who a session row belongs to, read with it: the id it names, and that person if still active. */
export interface SessionPerson {
  userId: string | null;
  user: CurrentUser | null;
}

/**
 * A live session and its signed-in person in one query (the person as loadCurrentUser reads
 * them: null when disabled), so a page costs one statement for both, as fresh as two.
 */
const sessionWithPerson = statement<[sid: string, now: Date]>((db, sid, now) =>
  db('sessions as s')
    .leftJoin('users as u', (on) => on.on('u.id', 's.user_id').andOnNull('u.disabled_at'))
    .leftJoin('directories as d', 'd.id', 'u.directory_id')
    .where('s.sid', sid)
    .where('s.expires_at', '>', now)
    .first('s.sess', 's.expires_at', 's.user_id', ...currentUserColumns(db)),
);

export async function readSessionWithPerson(db: Knex, sid: string, now: Date): Promise<StoredSession | null> {
  const [row] = await sessionWithPerson(db, sid, now);
  if (!row) return null;
  const person: SessionPerson = { userId: row.user_id, user: row.id ? toCurrentUser(row as CurrentUserRow) : null };
  return { sess: row.sess, expiresAt: new Date(row.expires_at), with: person };
}

export async function recordSignIn(db: Knex, userId: string, at: Date): Promise<void> {
  await db('users').where({ id: userId }).update({ last_sign_in_at: at });
}

export async function directoryNames(db: Knex, userIds: string[]): Promise<{ userId: string; hint: string; name: string }[]> {
  return db('users as u')
    .join('directories as d', 'd.id', 'u.directory_id')
    .whereIn('u.id', userIds)
    .select('u.id as userId', 'd.hint', 'd.name')
    .orderBy('d.name');
}
