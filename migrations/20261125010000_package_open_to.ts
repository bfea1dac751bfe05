import type { Knex } from 'knex';

/**
 * Whom a package is open to without looking at its policies: `open_to` is 'allUsers' when one of
 * its policies takes requests from everyone with no end date, 'allMembers' when one takes them
 * from every member, and null otherwise (only policies for named people or groups, or ending on a
 * date, which a listing must check as it reads). Available checked a policy for each package it
 * read, and reads up to 101 of them to count: half of its listing's time in PostgreSQL.
 * Triggers on policies keep it, like the packages' resources (package_resources migration).
 */
const statements: string[] = [
  `alter table access_packages add column open_to text check (open_to in ('allUsers', 'allMembers'))`,
  `create function access_package_open_to(package_id uuid) returns text language sql stable as $$
    select case when bool_or(requestor_scope = 'allUsers') then 'allUsers' when bool_or(requestor_scope = 'allMembers') then 'allMembers' end
    from policies
    where access_package_id = package_id and accept_requests and expiration_kind <> 'onDate'
  $$`,
  // Locks the packages first, in id order, and reads their policies after the lock, for the reason
  // refresh_access_packages gives: two transactions adding policies to one package at once.
  `create function refresh_access_packages_open_to(ids uuid[]) returns void language plpgsql as $$
    begin
      perform 1 from access_packages where id = any(ids) order by id for no key update;
      update access_packages p set open_to = access_package_open_to(p.id) where p.id = any(ids) and p.open_to is distinct from access_package_open_to(p.id);
    end $$`,
  `create function policies_added_or_removed() returns trigger language plpgsql as $$
    begin
      perform refresh_access_packages_open_to(array(select distinct access_package_id from changed));
      return null;
    end $$`,
  `create trigger policies_added after insert on policies
    referencing new table as changed for each statement execute function policies_added_or_removed()`,
  `create trigger policies_removed after delete on policies
    referencing old table as changed for each statement execute function policies_added_or_removed()`,
  `create function policies_changed() returns trigger language plpgsql as $$
    begin
      perform refresh_access_packages_open_to(array(select access_package_id from previous union select access_package_id from changed));
      return null;
    end $$`,
  `create trigger policies_changed after update on policies
    referencing old table as previous new table as changed for each statement execute function policies_changed()`,
  `update access_packages set open_to = access_package_open_to(id)`,
  // Available reads up to 101 packages in name order to count them: with what it filters on in the
  // index, it reads none of their rows (an index-only scan; 0.42 → 0.34 ms at entra scale).
  `drop index access_packages_listing`,
  `create index access_packages_listing on access_packages (directory_id, lower(name), id) include (name, hidden, catalog_id, open_to)`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
