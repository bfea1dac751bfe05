import { describe, expect, it } from 'vitest';
import type { AssetCatalog } from '../../src/web/assets.ts';
import { templateHelpers } from '../../src/web/views.ts';

const { whoDecides } = templateHelpers({ url: (name: string) => `/${name}` } as unknown as AssetCatalog);
const approvers = (...names: string[]) => names.map((name) => ({ name, kind: 'primary' }));

describe('who decides a stage, in words', () => {
  it('names one, two or three approvers, any of whom decides', () => {
    expect(whoDecides({ approvers: approvers('Max Manager') })).toBe('Max Manager');
    expect(whoDecides({ approvers: approvers('Apu Approver', 'Lia Lead') })).toBe('Apu Approver or Lia Lead');
    expect(whoDecides({ approvers: approvers('Ada', 'Apu', 'Lia') })).toBe('Ada, Apu or Lia');
  });

  it('counts a large group and names only the first few', () => {
    const many = approvers(...Array.from({ length: 2500 }, (_, i) => `Helpdesk ${i + 1}`));
    expect(whoDecides({ approvers: many })).toBe('one of 2,500 approvers (Helpdesk 1, Helpdesk 2, Helpdesk 3 and others)');
    expect(whoDecides({ approvers: many }, true)).toMatch(/^One of 2,500 approvers/);
  });

  it('counts alternate approvers once the stage was forwarded to them, and says when nobody can decide', () => {
    const stage = { approvers: [...approvers('Max Manager'), { name: 'Ada Admin', kind: 'escalation' }] };
    expect(whoDecides(stage)).toBe('Max Manager');
    expect(whoDecides({ ...stage, escalatedAt: new Date() })).toBe('Max Manager or Ada Admin');
    expect(whoDecides({ approvers: [] })).toBe('no approver');
  });
});
