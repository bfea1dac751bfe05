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
  // The triggers that keep search_text (page_keys migration) now keep both: one update of the
  // packages whose roles changed.
  `alter function access_package_roles_search_text() rename to access_package_roles_changed`,
  `create or replace function access_package_roles_changed() returns trigger language plpgsql as $$
    begin
      update access_packages p set search_text = access_package_search_text(p.id, p.name, p.description), resources = access_package_resources(p.id)
      where p.id in (select access_package_id from changed);
      return null;
    end $$`,
  `create function resource_roles_changed() returns trigger language plpgsql as $$
    begin
      update access_packages p set resources = access_package_resources(p.id)
      where p.id in (select aprr.access_package_id from changed c join access_package_resource_roles aprr on aprr.resource_role_id = c.id);
      return null;
    end $$`,
  `create trigger resource_roles_changed after update on resource_roles
    referencing new table as changed for each statement execute function resource_roles_changed()`,
  `drop trigger resources_search_text on resources`,
  `drop function resources_search_text()`,
  `create function resources_changed() returns trigger language plpgsql as $$
    begin
      update access_packages p set search_text = access_package_search_text(p.id, p.name, p.description), resources = access_package_resources(p.id)
      where p.id in (select aprr.access_package_id from changed c
                     join resource_roles rr on rr.resource_id = c.id
                     join access_package_resource_roles aprr on aprr.resource_role_id = rr.id);
      return null;
    end $$`,
  `create trigger resources_changed after update on resources
    referencing new table as changed for each statement execute function resources_changed()`,
  `update access_packages set resources = access_package_resources(id)`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
