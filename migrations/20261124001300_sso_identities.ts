import type { Knex } from 'knex';

/**
 * A person who signs in through their directory's OpenID Connect provider is linked, on their first
 * such sign-in, to the provider's subject (`sub`, which the provider never reuses), not only to an
 * email address: an address can later belong to someone else at the provider. The issuer is kept
 * beside it, so that a directory that moves to another provider links its people again.
 */
const statements: string[] = [
  `alter table users add column sso_issuer text, add column sso_subject text`,
  `create unique index users_sso_subject on users (directory_id, sso_issuer, sso_subject) where sso_subject is not null`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
