import type { Knex } from 'knex';

/**
 * Whom a package is open to without looking at its policies: `open_to` is 'allUsers' when one of
 * its policies takes requests from everyone with no end date, 'allMembers' when one takes them
 * from every member, and null otherwise (only policies for named people or groups, or ending on a
 * date, which a listing must check as it reads). Available checked a policy for each package it
 * read, and reads up to 101 of them to count: half of its listing's time in PostgreSQL.
 * Triggers on policies keep it, with the packages' resources and search text (package_resources migration).
 */
const statements: string[] = [
  `alter table access_packages add column open_to text check (open_to in ('allUsers', 'allMembers'))`,
  `create function access_package_open_to(package_id uuid) returns text language sql stable as $$
    select case when bool_or(requestor_scope = 'allUsers') then 'allUsers' when bool_or(requestor_scope = 'allMembers') then 'allMembers' end
    from policies
    where access_package_id = package_id and accept_requests and expiration_kind <> 'onDate'
  $$`,
  // One refresh keeps every column derived from a package's rows in other tables (its locking is
  // explained in the package_resources migration): two transactions adding policies to one package
  // at once are decided one after the other, as for roles.
  `create or replace function refresh_access_packages(ids uuid[]) returns void language plpgsql as $$
    begin
      perform 1 from access_packages where id = any(ids) order by id for no key update;
      update access_packages p set search_text = access_package_search_text(p.id, p.name, p.description), resources = access_package_resources(p.id),
                                   open_to = access_package_open_to(p.id)
      where p.id = any(ids);
    end $$`,
  // The roles' trigger functions read only the changed rows' access_package_id: policies have it too.
  `alter function access_package_roles_changed() rename to access_package_rows_changed`,
  `alter function access_package_roles_moved() rename to access_package_rows_moved`,
  `create trigger policies_added after insert on policies
    referencing new table as changed for each statement execute function access_package_rows_changed()`,
  `create trigger policies_removed after delete on policies
    referencing old table as changed for each statement execute function access_package_rows_changed()`,
  `create trigger policies_changed after update on policies
    referencing old table as previous new table as changed for each statement execute function access_package_rows_moved()`,
  `update access_packages set open_to = access_package_open_to(id)`,
  // Available reads up to 101 packages in name order to count them: with what it filters on in the
  // index, it reads none of their rows (an index-only scan; 0.42 → 0.34 ms at entra scale).
  `drop index access_packages_listing`,
  `create index access_packages_listing on access_packages (directory_id, lower(name), id) include (name, hidden, catalog_id, open_to)`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
