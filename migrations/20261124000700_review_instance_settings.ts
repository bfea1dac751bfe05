import type { Knex } from 'knex';

/**
 * An access review instance keeps the settings it started with. Reviewers were told, when it
 * started, what it reviews, who reviews and what happens to access nobody answers for; the admin
 * page promises that changes apply to instances that start later. Read from the definition, an edit
 * made while an instance ran changed that instance: "No change" saved as "Remove access" removed
 * every undecided person's access at the end, and a new scope made the end look for the removed
 * people's assignments in the wrong package. Each instance now carries its own copy, taken from
 * the definition when it starts (running and past instances take the definition as it is now), with
 * the same constraints as the definition. The name and description stay the definition's. What an
 * instance reviewed may later be removed (a group dropped by an import after the review moved on
 * to another): its past instances, with their items and decisions, stay, their scope set to null.
 */
const statements: string[] = [
  `alter table access_review_instances
     add column scope_type text,
     add column scope_access_package_id uuid references access_packages on delete set null,
     add column scope_group_id uuid references groups on delete set null,
     add column scope_resource_id uuid references resources on delete set null,
     add column reviewer_type text,
     add column if_no_response text,
     add column auto_apply boolean,
     add column require_justification boolean,
     add column show_recommendations boolean`,
  `update access_review_instances i set
     scope_type = r.scope_type,
     scope_access_package_id = r.scope_access_package_id,
     scope_group_id = r.scope_group_id,
     scope_resource_id = r.scope_resource_id,
     reviewer_type = r.reviewer_type,
     if_no_response = r.if_no_response,
     auto_apply = r.auto_apply,
     require_justification = r.require_justification,
     show_recommendations = r.show_recommendations
   from access_reviews r
   where r.id = i.access_review_id`,
  `alter table access_review_instances
     alter column scope_type set not null,
     alter column reviewer_type set not null,
     alter column if_no_response set not null,
     alter column auto_apply set not null,
     alter column require_justification set not null,
     alter column show_recommendations set not null,
     add constraint access_review_instances_scope_type_check check (scope_type in ('accessPackage', 'group', 'resource')),
     add constraint access_review_instances_reviewer_type_check check (reviewer_type in ('self', 'manager', 'specific')),
     add constraint access_review_instances_if_no_response_check check (if_no_response in ('noChange', 'removeAccess', 'takeRecommendations')),
     add constraint access_review_instances_scope_access_package_check check (scope_type = 'accessPackage' or scope_access_package_id is null),
     add constraint access_review_instances_scope_group_check check (scope_type = 'group' or scope_group_id is null),
     add constraint access_review_instances_scope_resource_check check (scope_type = 'resource' or scope_resource_id is null)`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
