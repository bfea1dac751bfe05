import type { Knex } from 'knex';

/**
 * The whole data model of Portico. Plain SQL that PostgreSQL 15+ and PGlite (PostgreSQL 18) both
 * accept; each statement runs on its own because PGlite takes one statement per query.
 * Times that rules depend on (deadlines, starts, ends) are written by services from the Clock;
 * created_at/updated_at defaults are bookkeeping only.
 */
const statements: string[] = [
  `create extension if not exists pg_trgm`,

  // ---- directory: people and groups ------------------------------------------------------
  // No question marks in these statements: knex raw() turns "?" into a bind parameter ($1), so {0,1} instead.
  `create table directories (
    id uuid primary key default gen_random_uuid(),
    hint text not null unique check (hint ~ '^[a-z0-9]([a-z0-9.-]*[a-z0-9]){0,1}$'),
    name text not null check (length(name) between 1 and 200),
    sign_in jsonb not null default '{"password": true}',
    last_imported_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
  )`,
  `create table users (
    id uuid primary key default gen_random_uuid(),
    directory_id uuid not null references directories on delete cascade,
    email text not null check (email = lower(email) and length(email) between 3 and 320),
    display_name text not null check (length(display_name) between 1 and 200),
    password_hash text,
    type text not null default 'member' check (type in ('member', 'guest')),
    manager_id uuid references users on delete set null,
    attributes jsonb not null default '{}' check (jsonb_typeof(attributes) = 'object'),
    is_admin boolean not null default false,
    last_sign_in_at timestamptz,
    disabled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (directory_id, email),
    check (manager_id is distinct from id)
  )`,
  `create index users_email on users (email)`,
  `create index users_manager on users (manager_id)`,
  `create index users_display_name_trgm on users using gin (lower(display_name) gin_trgm_ops)`,
  `create table user_sponsors (
    user_id uuid not null references users on delete cascade,
    sponsor_id uuid not null references users on delete cascade,
    primary key (user_id, sponsor_id),
    check (user_id <> sponsor_id)
  )`,
  `create table groups (
    id uuid primary key default gen_random_uuid(),
    directory_id uuid not null references directories on delete cascade,
    key text not null check (length(key) between 1 and 200),
    name text not null check (length(name) between 1 and 200),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (directory_id, key)
  )`,
  `create table group_members (
    group_id uuid not null references groups on delete cascade,
    user_id uuid not null references users on delete cascade,
    primary key (group_id, user_id)
  )`,
  `create index group_members_user on group_members (user_id)`,

  // ---- catalogs, resources, access packages -----------------------------------------------
  `create table catalogs (
    id uuid primary key default gen_random_uuid(),
    directory_id uuid not null references directories on delete cascade,
    name text not null check (length(name) between 1 and 200),
    description text not null default '',
    enabled boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (directory_id, name)
  )`,
  `create table catalog_owners (
    catalog_id uuid not null references catalogs on delete cascade,
    user_id uuid not null references users on delete cascade,
    primary key (catalog_id, user_id)
  )`,
  `create index catalog_owners_user on catalog_owners (user_id)`,
  `create table resources (
    id uuid primary key default gen_random_uuid(),
    directory_id uuid not null references directories on delete cascade,
    catalog_id uuid not null references catalogs on delete restrict,
    key text not null check (length(key) between 1 and 200),
    type text not null check (type in ('group', 'application', 'site')),
    name text not null check (length(name) between 1 and 200),
    description text not null default '',
    url text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (directory_id, key)
  )`,
  `create index resources_catalog on resources (catalog_id)`,
  `create index resources_name_trgm on resources using gin (lower(name) gin_trgm_ops)`,
  `create table resource_roles (
    id uuid primary key default gen_random_uuid(),
    resource_id uuid not null references resources on delete cascade,
    name text not null check (length(name) between 1 and 100),
    position int not null default 0,
    unique (resource_id, name)
  )`,
  `create table access_packages (
    id uuid primary key default gen_random_uuid(),
    directory_id uuid not null references directories on delete cascade,
    catalog_id uuid not null references catalogs on delete restrict,
    name text not null check (length(name) between 1 and 200),
    description text not null default '',
    hidden boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
  )`,
  `create index access_packages_catalog on access_packages (catalog_id)`,
  `create index access_packages_listing on access_packages (directory_id, lower(name), id)`,
  `create index access_packages_name_trgm on access_packages using gin (lower(name) gin_trgm_ops)`,
  `create index access_packages_description_trgm on access_packages using gin (lower(description) gin_trgm_ops)`,
  `create table access_package_resource_roles (
    access_package_id uuid not null references access_packages on delete cascade,
    resource_role_id uuid not null references resource_roles on delete restrict,
    primary key (access_package_id, resource_role_id)
  )`,
  `create index access_package_resource_roles_role on access_package_resource_roles (resource_role_id)`,
  `create table access_package_incompatibles (
    access_package_id uuid not null references access_packages on delete cascade,
    incompatible_id uuid not null references access_packages on delete cascade,
    primary key (access_package_id, incompatible_id),
    check (access_package_id <> incompatible_id)
  )`,
  `create index access_package_incompatibles_other on access_package_incompatibles (incompatible_id)`,

  // ---- policies ---------------------------------------------------------------------------
  `create table policies (
    id uuid primary key default gen_random_uuid(),
    access_package_id uuid not null references access_packages on delete cascade,
    name text not null check (length(name) between 1 and 200),
    description text not null default '',
    position int not null default 0,
    requestor_scope text not null check (requestor_scope in ('specific', 'allMembers', 'allUsers', 'none')),
    accept_requests boolean not null default true,
    require_justification boolean not null default false,
    questions jsonb not null default '[]' check (jsonb_typeof(questions) = 'array'),
    requestor_attributes jsonb not null default '[]' check (jsonb_typeof(requestor_attributes) = 'array'),
    expiration_kind text not null check (expiration_kind in ('afterDays', 'afterHours', 'onDate', 'never')),
    expiration_days int check (expiration_days between 0 and 3660),
    expiration_hours int check (expiration_hours between 1 and 87840),
    expiration_date timestamptz,
    allow_custom_period boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (access_package_id, name),
    check ((expiration_kind = 'afterDays') = (expiration_days is not null)),
    check ((expiration_kind = 'afterHours') = (expiration_hours is not null)),
    check ((expiration_kind = 'onDate') = (expiration_date is not null))
  )`,
  `create table policy_requestors (
    policy_id uuid not null references policies on delete cascade,
    user_id uuid references users on delete cascade,
    group_id uuid references groups on delete cascade,
    check ((user_id is null) <> (group_id is null))
  )`,
  `create unique index policy_requestors_user on policy_requestors (policy_id, user_id) where user_id is not null`,
  `create unique index policy_requestors_group on policy_requestors (policy_id, group_id) where group_id is not null`,
  `create index policy_requestors_by_user on policy_requestors (user_id) where user_id is not null`,
  `create index policy_requestors_by_group on policy_requestors (group_id) where group_id is not null`,
  `create table policy_stages (
    id uuid primary key default gen_random_uuid(),
    policy_id uuid not null references policies on delete cascade,
    position int not null check (position between 1 and 3),
    timeout_days int not null check (timeout_days between 1 and 3660),
    require_approver_justification boolean not null default false,
    escalation_after_days int check (escalation_after_days >= 1),
    unique (policy_id, position),
    check (escalation_after_days is null or escalation_after_days < timeout_days)
  )`,
  `create table policy_stage_approvers (
    id uuid primary key default gen_random_uuid(),
    stage_id uuid not null references policy_stages on delete cascade,
    role text not null check (role in ('primary', 'fallback', 'escalation')),
    type text not null check (type in ('manager', 'sponsor', 'user', 'group')),
    user_id uuid references users on delete cascade,
    group_id uuid references groups on delete cascade,
    position int not null default 0,
    check ((type = 'user') = (user_id is not null)),
    check ((type = 'group') = (group_id is not null))
  )`,
  `create index policy_stage_approvers_stage on policy_stage_approvers (stage_id)`,
  `create index policy_stage_approvers_user on policy_stage_approvers (user_id) where user_id is not null`,
  `create index policy_stage_approvers_group on policy_stage_approvers (group_id) where group_id is not null`,

  // ---- requests and their approval --------------------------------------------------------
  `create table requests (
    id uuid primary key default gen_random_uuid(),
    directory_id uuid not null references directories on delete cascade,
    access_package_id uuid not null references access_packages on delete restrict,
    policy_id uuid not null references policies on delete restrict,
    target_user_id uuid not null references users on delete restrict,
    requested_by_id uuid not null references users on delete restrict,
    type text not null check (type in ('userAdd', 'userExtend', 'userRemove', 'adminAdd', 'adminRemove', 'systemRemove')),
    state text not null check (state in ('submitted', 'pendingApproval', 'approved', 'delivering', 'delivered',
      'scheduled', 'denied', 'expired', 'canceled', 'deliveryFailed', 'partiallyDelivered')),
    justification text,
    answers jsonb not null default '[]' check (jsonb_typeof(answers) = 'array'),
    requestor_attributes jsonb not null default '[]' check (jsonb_typeof(requestor_attributes) = 'array'),
    requested_start timestamptz,
    requested_end timestamptz,
    -- The policy's expiration when the request was made; access approved later still ends as promised.
    expiration jsonb not null default '{"kind": "never"}',
    resubmits_request_id uuid references requests on delete set null,
    -- The id the request form carried: a double click or a second tab sends it twice, the request exists once.
    submission_key text unique check (length(submission_key) <= 100),
    current_stage int check (current_stage between 1 and 3),
    submitted_at timestamptz not null,
    completed_at timestamptz,
    updated_at timestamptz not null,
    check (requested_end is null or requested_start is null or requested_end > requested_start)
  )`,
  // One open request per person and package: a double click or a second tab cannot make two.
  `create unique index requests_one_open on requests (target_user_id, access_package_id)
    where state in ('submitted', 'pendingApproval', 'approved', 'delivering')`,
  `create index requests_history on requests (target_user_id, submitted_at desc, id desc)`,
  `create index requests_package on requests (access_package_id, submitted_at desc, id desc)`,
  `create index requests_directory_state on requests (directory_id, state, submitted_at desc)`,
  `create index requests_resubmits on requests (resubmits_request_id) where resubmits_request_id is not null`,
  `create table request_stages (
    id uuid primary key default gen_random_uuid(),
    request_id uuid not null references requests on delete cascade,
    position int not null check (position between 1 and 3),
    state text not null check (state in ('waiting', 'pending', 'approved', 'denied', 'expired', 'canceled')),
    timeout_days int not null,
    require_approver_justification boolean not null default false,
    escalation_after_days int,
    -- The policy's approvers for this stage as they were at submission: later policy edits do not move pending requests.
    approver_rules jsonb not null default '[]' check (jsonb_typeof(approver_rules) = 'array'),
    started_at timestamptz,
    due_at timestamptz,
    escalate_at timestamptz,
    escalated_at timestamptz,
    decided_at timestamptz,
    decided_by_id uuid references users on delete set null,
    decision text check (decision in ('approve', 'deny')),
    justification text,
    unique (request_id, position),
    check ((decision is null) = (decided_at is null))
  )`,
  `create index request_stages_due on request_stages (due_at) where state = 'pending'`,
  `create index request_stages_escalate on request_stages (escalate_at) where state = 'pending' and escalated_at is null`,
  `create index request_stages_decided_by on request_stages (decided_by_id, decided_at desc) where decided_by_id is not null`,
  // Who was asked to decide a stage, resolved when the stage starts (escalation approvers when it escalates).
  `create table request_stage_approvers (
    stage_id uuid not null references request_stages on delete cascade,
    user_id uuid not null references users on delete cascade,
    kind text not null check (kind in ('primary', 'fallback', 'escalation')),
    open boolean not null default true,
    primary key (stage_id, user_id)
  )`,
  `create index request_stage_approvers_open on request_stage_approvers (user_id, stage_id) where open`,

  // ---- assignments: access held -----------------------------------------------------------
  `create table assignments (
    id uuid primary key default gen_random_uuid(),
    directory_id uuid not null references directories on delete cascade,
    access_package_id uuid not null references access_packages on delete restrict,
    policy_id uuid not null references policies on delete restrict,
    user_id uuid not null references users on delete restrict,
    request_id uuid references requests on delete set null,
    origin text not null check (origin in ('request', 'admin', 'import')),
    state text not null check (state in ('scheduled', 'delivered', 'expired')),
    starts_at timestamptz not null,
    ends_at timestamptz,
    ended_at timestamptz,
    end_reason text check (end_reason in ('expired', 'removedByAdmin', 'review', 'import', 'userRemoved')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (ends_at is null or ends_at > starts_at),
    check ((state = 'expired') = (ended_at is not null))
  )`,
  `create unique index assignments_one_live on assignments (user_id, access_package_id) where state in ('scheduled', 'delivered')`,
  `create index assignments_user on assignments (user_id, state, starts_at desc)`,
  `create index assignments_package on assignments (access_package_id, state, starts_at desc)`,
  `create index assignments_due_end on assignments (ends_at) where state = 'delivered' and ends_at is not null`,
  `create index assignments_due_start on assignments (starts_at) where state = 'scheduled'`,
  `create index assignments_request on assignments (request_id) where request_id is not null`,
  `create table assignment_grants (
    id uuid primary key default gen_random_uuid(),
    assignment_id uuid not null references assignments on delete cascade,
    resource_role_id uuid not null references resource_roles on delete restrict,
    granted_at timestamptz not null,
    revoked_at timestamptz,
    unique (assignment_id, resource_role_id)
  )`,
  `create index assignment_grants_role on assignment_grants (resource_role_id) where revoked_at is null`,

  // ---- access reviews ---------------------------------------------------------------------
  `create table access_reviews (
    id uuid primary key default gen_random_uuid(),
    directory_id uuid not null references directories on delete cascade,
    name text not null check (length(name) between 1 and 200),
    description text not null default '',
    scope_type text not null check (scope_type in ('accessPackage', 'group', 'resource')),
    scope_access_package_id uuid references access_packages on delete cascade,
    scope_group_id uuid references groups on delete cascade,
    scope_resource_id uuid references resources on delete cascade,
    reviewer_type text not null check (reviewer_type in ('self', 'manager', 'specific')),
    starts_on timestamptz not null,
    duration_days int not null check (duration_days between 1 and 3660),
    recurrence text not null check (recurrence in ('once', 'weekly', 'monthly', 'quarterly', 'semiAnnually', 'annually')),
    if_no_response text not null check (if_no_response in ('noChange', 'removeAccess', 'takeRecommendations')),
    auto_apply boolean not null default false,
    require_justification boolean not null default false,
    show_recommendations boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((scope_type = 'accessPackage') = (scope_access_package_id is not null)),
    check ((scope_type = 'group') = (scope_group_id is not null)),
    check ((scope_type = 'resource') = (scope_resource_id is not null))
  )`,
  `create index access_reviews_directory on access_reviews (directory_id)`,
  // Specific reviewers, or the fallback reviewers of a manager review.
  `create table access_review_reviewers (
    access_review_id uuid not null references access_reviews on delete cascade,
    user_id uuid not null references users on delete cascade,
    primary key (access_review_id, user_id)
  )`,
  `create table access_review_instances (
    id uuid primary key default gen_random_uuid(),
    access_review_id uuid not null references access_reviews on delete cascade,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    state text not null check (state in ('active', 'ended', 'applied')),
    ended_at timestamptz,
    applied_at timestamptz,
    reminded_at timestamptz,
    unique (access_review_id, starts_at),
    check (ends_at > starts_at)
  )`,
  `create index access_review_instances_due on access_review_instances (ends_at) where state = 'active'`,
  `create table access_review_items (
    id uuid primary key default gen_random_uuid(),
    instance_id uuid not null references access_review_instances on delete cascade,
    subject_user_id uuid not null references users on delete cascade,
    assignment_id uuid references assignments on delete set null,
    group_id uuid references groups on delete set null,
    resource_role_id uuid references resource_roles on delete set null,
    access_label text not null,
    access_since timestamptz,
    recommendation text check (recommendation in ('approve', 'deny')),
    decision text check (decision in ('approve', 'deny', 'dontKnow')),
    decided_by_id uuid references users on delete set null,
    decided_at timestamptz,
    justification text,
    outcome text check (outcome in ('kept', 'removed')),
    applied_at timestamptz
  )`,
  `create index access_review_items_instance on access_review_items (instance_id, subject_user_id)`,
  `create table access_review_item_reviewers (
    item_id uuid not null references access_review_items on delete cascade,
    user_id uuid not null references users on delete cascade,
    primary key (item_id, user_id)
  )`,
  `create index access_review_item_reviewers_user on access_review_item_reviewers (user_id)`,
  `create table access_review_decisions (
    id bigint generated always as identity primary key,
    item_id uuid not null references access_review_items on delete cascade,
    reviewer_id uuid not null references users on delete cascade,
    decision text not null check (decision in ('approve', 'deny', 'dontKnow')),
    justification text,
    decided_at timestamptz not null
  )`,
  `create index access_review_decisions_item on access_review_decisions (item_id, decided_at)`,

  // ---- notifications outbox ---------------------------------------------------------------
  `create table notifications (
    id uuid primary key default gen_random_uuid(),
    directory_id uuid references directories on delete cascade,
    kind text not null,
    to_user_id uuid references users on delete set null,
    to_address text not null,
    subject text not null,
    text_body text not null,
    html_body text not null,
    dedupe_key text unique,
    created_at timestamptz not null,
    next_attempt_at timestamptz not null,
    attempts int not null default 0,
    last_error text,
    locked_until timestamptz,
    sent_at timestamptz
  )`,
  `create index notifications_unsent on notifications (next_attempt_at) where sent_at is null`,
  `create index notifications_user on notifications (to_user_id, created_at desc)`,

  // ---- audit log (append-only) ------------------------------------------------------------
  `create table audit_log (
    id bigint generated always as identity primary key,
    directory_id uuid references directories on delete set null,
    at timestamptz not null,
    actor_id uuid,
    actor_label text,
    action text not null,
    target_type text,
    target_id text,
    ip text,
    user_agent text,
    details jsonb not null default '{}'
  )`,
  `create index audit_log_target on audit_log (target_type, target_id, id)`,
  `create index audit_log_directory on audit_log (directory_id, id desc)`,
  `create index audit_log_actor on audit_log (actor_id, id desc)`,
  `create index audit_log_action on audit_log (action, id desc)`,
  `create function audit_log_append_only() returns trigger language plpgsql as $$
    begin
      if tg_op = 'UPDATE' and old.directory_id is not null and new.directory_id is null
         and (to_jsonb(old) - 'directory_id') = (to_jsonb(new) - 'directory_id') then
        return new; -- the one permitted change: a deleted directory's entries lose the reference
      end if;
      raise exception 'audit_log is append-only';
    end $$`,
  `create trigger audit_log_append_only before update or delete on audit_log
    for each row execute function audit_log_append_only()`,

  // ---- sessions and sign-in throttling ----------------------------------------------------
  `create table sessions (
    sid text primary key,
    sess jsonb not null,
    user_id uuid references users on delete cascade,
    expires_at timestamptz not null,
    created_at timestamptz not null default now()
  )`,
  `create index sessions_expires on sessions (expires_at)`,
  `create index sessions_user on sessions (user_id) where user_id is not null`,
  `create table sign_in_throttle (
    key text primary key,
    failures int not null default 0,
    window_started_at timestamptz not null,
    locked_until timestamptz
  )`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
