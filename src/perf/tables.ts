/**
 * The tables the generator fills, with the columns it writes and their SQL types, in an order in
 * which every table comes after the tables it references. Columns left out take their defaults.
 */
export const TABLES = {
  directories: { parents: [], columns: { id: 'uuid', hint: 'text', name: 'text', sign_in: 'jsonb' } },
  users: {
    parents: ['directories'],
    columns: {
      id: 'uuid', directory_id: 'uuid', email: 'text', display_name: 'text', password_hash: 'text', type: 'text', manager_id: 'uuid',
      attributes: 'jsonb', is_admin: 'boolean', last_sign_in_at: 'timestamptz', disabled_at: 'timestamptz',
    },
  },
  user_sponsors: { parents: ['users'], columns: { user_id: 'uuid', sponsor_id: 'uuid' } },
  groups: { parents: ['directories'], columns: { id: 'uuid', directory_id: 'uuid', key: 'text', name: 'text' } },
  group_members: { parents: ['groups', 'users'], columns: { group_id: 'uuid', user_id: 'uuid' } },
  catalogs: { parents: ['directories'], columns: { id: 'uuid', directory_id: 'uuid', name: 'text', description: 'text', enabled: 'boolean' } },
  catalog_owners: { parents: ['catalogs', 'users'], columns: { catalog_id: 'uuid', user_id: 'uuid' } },
  resources: {
    parents: ['catalogs'],
    columns: { id: 'uuid', directory_id: 'uuid', catalog_id: 'uuid', key: 'text', type: 'text', name: 'text', description: 'text', url: 'text' },
  },
  resource_roles: { parents: ['resources'], columns: { id: 'uuid', resource_id: 'uuid', name: 'text', position: 'int' } },
  access_packages: {
    parents: ['catalogs'],
    columns: { id: 'uuid', directory_id: 'uuid', catalog_id: 'uuid', name: 'text', description: 'text', hidden: 'boolean', search_text: 'text' },
  },
  access_package_resource_roles: { parents: ['access_packages', 'resource_roles'], columns: { access_package_id: 'uuid', resource_role_id: 'uuid' } },
  access_package_incompatibles: { parents: ['access_packages'], columns: { access_package_id: 'uuid', incompatible_id: 'uuid' } },
  policies: {
    parents: ['access_packages'],
    columns: {
      id: 'uuid', access_package_id: 'uuid', name: 'text', description: 'text', position: 'int', requestor_scope: 'text', accept_requests: 'boolean',
      require_justification: 'boolean', questions: 'jsonb', requestor_attributes: 'jsonb', expiration_kind: 'text', expiration_days: 'int',
      expiration_hours: 'int', allow_custom_period: 'boolean',
    },
  },
  policy_requestors: { parents: ['policies', 'users', 'groups'], columns: { policy_id: 'uuid', user_id: 'uuid', group_id: 'uuid' } },
  policy_stages: {
    parents: ['policies'],
    columns: { id: 'uuid', policy_id: 'uuid', position: 'int', timeout_days: 'int', require_approver_justification: 'boolean', escalation_after_days: 'int' },
  },
  policy_stage_approvers: {
    parents: ['policy_stages', 'users', 'groups'],
    columns: { stage_id: 'uuid', role: 'text', type: 'text', user_id: 'uuid', group_id: 'uuid', position: 'int' },
  },
  requests: {
    parents: ['access_packages', 'policies', 'users'],
    columns: {
      id: 'uuid', directory_id: 'uuid', access_package_id: 'uuid', policy_id: 'uuid', target_user_id: 'uuid', requested_by_id: 'uuid', type: 'text',
      state: 'text', justification: 'text', answers: 'jsonb', requested_start: 'timestamptz', expiration: 'jsonb', resubmits_request_id: 'uuid',
      current_stage: 'int', submitted_at: 'timestamptz', completed_at: 'timestamptz', updated_at: 'timestamptz',
    },
  },
  request_stages: {
    parents: ['requests', 'users'],
    columns: {
      id: 'uuid', request_id: 'uuid', position: 'int', state: 'text', timeout_days: 'int', require_approver_justification: 'boolean',
      escalation_after_days: 'int', approver_rules: 'jsonb', started_at: 'timestamptz', due_at: 'timestamptz', escalate_at: 'timestamptz',
      escalated_at: 'timestamptz', remind_at: 'timestamptz', reminded_at: 'timestamptz', decided_at: 'timestamptz', decided_by_id: 'uuid', decision: 'text', justification: 'text',
    },
  },
  request_stage_approvers: { parents: ['request_stages', 'users'], columns: { stage_id: 'uuid', user_id: 'uuid', kind: 'text', open: 'boolean', due_at: 'timestamptz' } },
  assignments: {
    parents: ['access_packages', 'policies', 'users', 'requests'],
    columns: {
      id: 'uuid', directory_id: 'uuid', access_package_id: 'uuid', policy_id: 'uuid', user_id: 'uuid', request_id: 'uuid', origin: 'text', state: 'text',
      starts_at: 'timestamptz', ends_at: 'timestamptz', ended_at: 'timestamptz', end_reason: 'text', created_at: 'timestamptz', updated_at: 'timestamptz',
    },
  },
  assignment_grants: {
    parents: ['assignments', 'resource_roles'],
    columns: { assignment_id: 'uuid', resource_role_id: 'uuid', granted_at: 'timestamptz', revoked_at: 'timestamptz' },
  },
  audit_log: {
    parents: ['directories'],
    columns: {
      directory_id: 'uuid', at: 'timestamptz', actor_id: 'uuid', actor_label: 'text', action: 'text', target_type: 'text', target_id: 'text', details: 'jsonb',
    },
  },
  access_reviews: {
    parents: ['directories', 'access_packages', 'groups', 'resources'],
    columns: {
      id: 'uuid', directory_id: 'uuid', name: 'text', description: 'text', scope_type: 'text', scope_access_package_id: 'uuid', scope_group_id: 'uuid',
      scope_resource_id: 'uuid', reviewer_type: 'text', starts_on: 'timestamptz', duration_days: 'int', recurrence: 'text', if_no_response: 'text',
      auto_apply: 'boolean', require_justification: 'boolean', show_recommendations: 'boolean',
    },
  },
  access_review_reviewers: { parents: ['access_reviews', 'users'], columns: { access_review_id: 'uuid', user_id: 'uuid' } },
  access_review_instances: {
    parents: ['access_reviews', 'access_packages', 'groups', 'resources'],
    columns: {
      id: 'uuid', access_review_id: 'uuid', starts_at: 'timestamptz', ends_at: 'timestamptz', state: 'text', ended_at: 'timestamptz', reminded_at: 'timestamptz',
      scope_type: 'text', scope_access_package_id: 'uuid', scope_group_id: 'uuid', scope_resource_id: 'uuid', reviewer_type: 'text', if_no_response: 'text',
      auto_apply: 'boolean', require_justification: 'boolean', show_recommendations: 'boolean',
    },
  },
  access_review_items: {
    parents: ['access_review_instances', 'users', 'assignments', 'groups'],
    columns: {
      id: 'uuid', instance_id: 'uuid', subject_user_id: 'uuid', subject_sort_name: 'text', assignment_id: 'uuid', group_id: 'uuid', access_label: 'text', access_since: 'timestamptz',
      recommendation: 'text', decision: 'text', decided_by_id: 'uuid', decided_at: 'timestamptz', justification: 'text',
    },
  },
  access_review_item_reviewers: { parents: ['access_review_items', 'users'], columns: { item_id: 'uuid', user_id: 'uuid' } },
  access_review_decisions: {
    parents: ['access_review_items', 'users'],
    columns: { item_id: 'uuid', reviewer_id: 'uuid', decision: 'text', justification: 'text', decided_at: 'timestamptz' },
  },
} as const satisfies Record<string, { parents: readonly string[]; columns: Record<string, string> }>;

export type TableName = keyof typeof TABLES;
export type Row<T extends TableName> = { [C in keyof (typeof TABLES)[T]['columns']]?: unknown };

/** Where generated rows go: a database (bulk inserts) or a directory file. */
export interface Sink {
  add<T extends TableName>(table: T, row: Row<T>): void;
  /** Called often while generating: waits while too much is queued (keeps memory bounded). */
  drain(): Promise<void>;
  /** Everything added so far is written. */
  flush(): Promise<void>;
}
