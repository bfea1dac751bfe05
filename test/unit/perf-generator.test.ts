import { describe, expect, it } from 'vitest';
import { parseDirectoryFile } from '../../src/directory/validate.ts';
import { DirectoryFileSink } from '../../src/perf/directory-file.ts';
import { generate, SCALES } from '../../src/perf/generate.ts';
import type { Row, Sink, TableName } from '../../src/perf/tables.ts';

const HASH = 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5';
const NOW = new Date('2027-01-15T09:00:00Z');

class Collect implements Sink {
  rows = new Map<TableName, Record<string, unknown>[]>();
  add<T extends TableName>(table: T, row: Row<T>): void {
    if (!this.rows.has(table)) this.rows.set(table, []);
    this.rows.get(table)!.push(row as Record<string, unknown>);
  }
  async drain() {}
  async flush() {}
}

describe('the data generator', () => {
  it('writes a directory file that the importer accepts', async () => {
    const sink = new DirectoryFileSink();
    const result = await generate(sink, { scale: SCALES.tiny, now: NOW, passwordHash: HASH, seed: 3 });
    const parsed = parseDirectoryFile(JSON.parse([...sink.toJsonChunks(result)].join('')), NOW);
    expect(parsed.ok ? [] : parsed.problems.slice(0, 5)).toEqual([]);
  });

  it('is deterministic, and keeps one open request and one live assignment per person and package', async () => {
    const a = new Collect();
    const b = new Collect();
    await generate(a, { scale: SCALES.tiny, now: NOW, passwordHash: HASH, seed: 5 });
    await generate(b, { scale: SCALES.tiny, now: NOW, passwordHash: HASH, seed: 5 });
    expect(JSON.stringify([...a.rows])).toBe(JSON.stringify([...b.rows]));

    const requests = a.rows.get('requests')!;
    const assignments = a.rows.get('assignments')!;
    expect(requests.filter((r) => r.type === 'userAdd').length).toBe(SCALES.tiny.requests);
    // Administrators' assignments carry their adminAdd request, as in the portal.
    const adminAssignments = assignments.filter((a) => a.origin === 'admin');
    expect(adminAssignments.length).toBeGreaterThan(0);
    expect(adminAssignments.every((a) => requests.some((r) => r.id === a.request_id && r.type === 'adminAdd'))).toBe(true);
    expect(assignments.length).toBe(SCALES.tiny.assignments);
    const open = requests.filter((r) => ['submitted', 'pendingApproval', 'approved', 'delivering'].includes(r.state as string)).map((r) => `${r.target_user_id}/${r.access_package_id}`);
    const live = assignments.filter((r) => r.state !== 'expired').map((r) => `${r.user_id}/${r.access_package_id}`);
    expect(new Set(open).size).toBe(open.length);
    expect(new Set(live).size).toBe(live.length);
    expect(open.filter((pair) => live.includes(pair))).toEqual([]);
    // Every state people see, and approval history.
    expect(new Set(requests.map((r) => r.state))).toEqual(new Set(['pendingApproval', 'delivered', 'scheduled', 'denied', 'expired', 'canceled', 'deliveryFailed']));
    expect(a.rows.get('request_stages')!.some((s) => s.decision === 'deny')).toBe(true);
    expect(a.rows.get('request_stage_approvers')!.some((s) => s.open === true)).toBe(true);
    expect(a.rows.get('access_review_items')!.length).toBeGreaterThan(0);
  });
});
