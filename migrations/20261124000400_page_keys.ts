import type { Knex } from 'knex';

/**
 * Keys that let the busiest pages read a page of rows in order from an index instead of gathering,
 * joining and sorting every candidate (see README, Performance). Plain SQL for PostgreSQL 15+ and
 * PGlite, one statement each; no question marks (knex would read them as bindings).
 */
const statements: string[] = [
  // Overview: this person's access ending soon, from the index alone.
  `create index assignments_ending on assignments (user_id, ends_at) where state = 'delivered'`,

  // Approvals: an approver's open items in deadline order. A stage's deadline is set when it starts,
  // before anyone is asked, and never moves; each approver row carries it.
  `alter table request_stage_approvers add column due_at timestamptz`,
  `update request_stage_approvers a set due_at = s.due_at from request_stages s where s.id = a.stage_id`,
  `alter table request_stage_approvers alter column due_at set not null`,
  `create index request_stage_approvers_due on request_stage_approvers (user_id, due_at) include (stage_id, kind) where open`,

  // An access review's items by the reviewed person's name: lower(display_name), kept in step with
  // renames by the directory import.
  `alter table access_review_items add column subject_sort_name text`,
  `update access_review_items it set subject_sort_name = lower(u.display_name) from users u where u.id = it.subject_user_id`,
  `alter table access_review_items alter column subject_sort_name set not null`,
  `create index access_review_items_by_name on access_review_items (instance_id, subject_sort_name, id)`,
  `create index access_review_items_subject on access_review_items (subject_user_id)`,

  // Search over names, descriptions and resource names: one text per package (the three lowercased,
  // one per line; a search has no control characters, so it never matches across two of them) with
  // one trigram index, instead of three index scans joined through resource roles. Triggers keep it
  // current however a package, its resources or their names change.
  `alter table access_packages add column search_text text not null default ''`,
  `create function access_package_search_text(package_id uuid, name text, description text) returns text language sql stable as $$
    select lower(name) || E'\\n' || lower(description) || coalesce((
      select E'\\n' || string_agg(lower(r.name), E'\\n' order by r.name)
      from access_package_resource_roles aprr
      join resource_roles rr on rr.id = aprr.resource_role_id
      join resources r on r.id = rr.resource_id
      where aprr.access_package_id = package_id), '')
  $$`,
  `create function access_packages_search_text() returns trigger language plpgsql as $$
    begin
      new.search_text := access_package_search_text(new.id, new.name, new.description);
      return new;
    end $$`,
  `create trigger access_packages_search_text before insert or update of name, description on access_packages
    for each row execute function access_packages_search_text()`,
  `create function access_package_roles_search_text() returns trigger language plpgsql as $$
    begin
      update access_packages p set search_text = access_package_search_text(p.id, p.name, p.description)
      where p.id in (select access_package_id from changed);
      return null;
    end $$`,
  `create trigger access_package_roles_added after insert on access_package_resource_roles
    referencing new table as changed for each statement execute function access_package_roles_search_text()`,
  `create trigger access_package_roles_removed after delete on access_package_resource_roles
    referencing old table as changed for each statement execute function access_package_roles_search_text()`,
  `create function resources_search_text() returns trigger language plpgsql as $$
    begin
      update access_packages p set search_text = access_package_search_text(p.id, p.name, p.description)
      where p.id in (select aprr.access_package_id from renamed r
                     join previous o on o.id = r.id and o.name is distinct from r.name
                     join resource_roles rr on rr.resource_id = r.id
                     join access_package_resource_roles aprr on aprr.resource_role_id = rr.id);
      return null;
    end $$`,
  `create trigger resources_search_text after update on resources
    referencing old table as previous new table as renamed for each statement execute function resources_search_text()`,
  `update access_packages set search_text = access_package_search_text(id, name, description)`,
  `create index access_packages_search_trgm on access_packages using gin (search_text gin_trgm_ops)`,
  // Descriptions are searched through search_text only.
  `drop index access_packages_description_trgm`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
