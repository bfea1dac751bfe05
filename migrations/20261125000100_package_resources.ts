import type { Knex } from 'knex';

/**
 * What each access package gives (its resource roles, with their resources' names, types, links
 * and descriptions, in resource-name order) is kept on the package as JSON, as Available and the
 * package pane show it. Available built it for every package it listed, on every view: three index
 * lookups a role, a third of the page's time in PostgreSQL. Triggers keep it current however a
 * package's roles, a role or a resource change (roles and resources are deleted through their
 * packages' roles, whose delete trigger recomputes), with the search text: one update of the
 * packages concerned keeps both.
 */
const statements: string[] = [
  `alter table access_packages add column resources jsonb not null default '[]'`,
  `create function access_package_resources(package_id uuid) returns jsonb language sql stable as $$
    select coalesce(jsonb_agg(jsonb_build_object('resourceName', r.name, 'resourceType', r.type, 'roleName', rr.name, 'url', r.url,
                                                 'description', r.description) order by r.name, rr.position), '[]')
    from access_package_resource_roles aprr
    join resource_roles rr on rr.id = aprr.resource_role_id
    join resources r on r.id = rr.resource_id
    where aprr.access_package_id = package_id
  $$`,
  // Recomputes both derived columns of these packages. Their rows are locked first, in id order,
  // and read again after the lock: two transactions changing one package's roles at once would
  // otherwise each compute from what was committed before either, and the second would write a
  // list without the first one's role. (Each statement of a trigger function sees what was
  // committed when it starts.) The lock is the one an update takes (no key update): a role
  // added holds a key-share lock on its package for the foreign key, which this one lets be.
  `create function refresh_access_packages(ids uuid[]) returns void language plpgsql as $$
    begin
      perform 1 from access_packages where id = any(ids) order by id for no key update;
      update access_packages p set search_text = access_package_search_text(p.id, p.name, p.description), resources = access_package_resources(p.id)
      where p.id = any(ids);
    end $$`,
  // The triggers that kept search_text (page_keys migration) now keep both.
  `alter function access_package_roles_search_text() rename to access_package_roles_changed`,
  `create or replace function access_package_roles_changed() returns trigger language plpgsql as $$
    begin
      perform refresh_access_packages(array(select distinct access_package_id from changed));
      return null;
    end $$`,
  `create function access_package_roles_moved() returns trigger language plpgsql as $$
    begin
      perform refresh_access_packages(array(select access_package_id from previous union select access_package_id from changed));
      return null;
    end $$`,
  `create trigger access_package_roles_moved after update on access_package_resource_roles
    referencing old table as previous new table as changed for each statement execute function access_package_roles_moved()`,
  `create function resource_roles_changed() returns trigger language plpgsql as $$
    begin
      perform refresh_access_packages(array(select distinct aprr.access_package_id from changed c
                                            join access_package_resource_roles aprr on aprr.resource_role_id = c.id));
      return null;
    end $$`,
  `create trigger resource_roles_changed after update on resource_roles
    referencing new table as changed for each statement execute function resource_roles_changed()`,
  `drop trigger resources_search_text on resources`,
  `drop function resources_search_text()`,
  `create function resources_changed() returns trigger language plpgsql as $$
    begin
      perform refresh_access_packages(array(select distinct aprr.access_package_id from changed c
                                            join resource_roles rr on rr.resource_id = c.id
                                            join access_package_resource_roles aprr on aprr.resource_role_id = rr.id));
      return null;
    end $$`,
  `create trigger resources_changed after update on resources
    referencing new table as changed for each statement execute function resources_changed()`,
  `update access_packages set resources = access_package_resources(id)`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
