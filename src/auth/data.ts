import type { Knex } from 'knex';
import type { CurrentUser } from './current-user.ts';

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

export async function loadCurrentUser(db: Knex, userId: string): Promise<CurrentUser | null> {
  const row = await db('users as u')
    .join('directories as d', 'd.id', 'u.directory_id')
    .where('u.id', userId)
    .whereNull('u.disabled_at')
    .first(
      'u.id',
      'u.email',
      'u.display_name',
      'u.type',
      'u.is_admin',
      'd.id as directory_id',
      'd.hint as directory_hint',
      'd.name as directory_name',
      db.raw('exists (select 1 from catalog_owners co where co.user_id = u.id) as owns_catalogs'),
    );
  if (!row) return null;
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
