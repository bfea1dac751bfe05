import { describe, expect, it } from 'vitest';
import { judgeBudgets, type RunFigures } from '../../src/perf/budgets.ts';
import { parseWrk } from '../../src/perf/wrk.ts';

/** The figures of the benchmark run of 24 November 2026, 07:15 UTC (README, Performance). */
const lastRun: RunFigures = {
  pages: [
    { name: 'Overview', rps: 469.6, p99: 112.17, served: true, errors: 0 },
    { name: 'Available', rps: 409.5, p99: 137.54, served: true, errors: 0 },
    { name: 'Available, search "payroll"', rps: 249.3, p99: 190.06, served: true, errors: 0 },
    { name: 'Request history', rps: 863.9, p99: 65.66, served: true, errors: 0 },
    { name: 'Approve a request (POST)', rps: 130.8, p99: 331.67, served: true, errors: 0 },
  ],
  availablePage: 'Available',
  searchPage: 'Available, search "payroll"',
  ceilingRps: 63576.3,
  searchUsesIndex: true,
  firstLoadKb: 25.3,
  peakMemoryMb: 254,
  sweep: { seconds: 13.32, dueItems: 100_000 },
  loadSeconds: 47.8,
};

const verdictOf = (run: RunFigures, start: string) => judgeBudgets(run).find((v) => v.budget.startsWith(start))!;

describe('the benchmark’s verdict on the budgets', () => {
  it('says which budgets a run met and by what figure', () => {
    expect(judgeBudgets(lastRun).map((v) => [v.met, v.budget, v.measured])).toEqual([
      [false, 'p99 under 50 ms on every page', '5 of 5 over: worst Approve a request (POST) 332 ms, best Request history 66 ms'],
      [false, 'Available at 35 % of the node:http ceiling or more', '0.6 %'],
      [false, 'search p99 under 50 ms', '190 ms'],
      [true, 'search by an index, not a scan', 'no sequential scan in the plan'],
      [true, 'first load under 30 KB compressed', '25.3 KB'],
      [true, 'server memory under 300 MB', '254 MB at peak'],
      [false, 'sweep of 100,000 due items under 10 s', '13.3 s for 100,000 due items'],
      [true, 'loading the data under 2 minutes', '48 s'],
    ]);
  });

  it('counts a budget as met only under its limit, not at it', () => {
    const at = { ...lastRun, pages: lastRun.pages.map((p) => ({ ...p, p99: 50 })), peakMemoryMb: 300, firstLoadKb: 30, sweep: { seconds: 10, dueItems: 100_000 } };
    expect(judgeBudgets(at).filter((v) => v.met).map((v) => v.budget)).toEqual(['search by an index, not a scan', 'loading the data under 2 minutes']);
    const under = { ...at, pages: at.pages.map((p) => ({ ...p, p99: 49.9 })) };
    expect(verdictOf(under, 'p99 under')).toEqual({ budget: 'p99 under 50 ms on every page', met: true, measured: 'worst 50 ms' });
    expect(verdictOf(under, 'search p99').met).toBe(true);
  });

  it('does not judge a page fast when it answered errors, and says which budgets both', () => {
    const run = { ...lastRun, pages: lastRun.pages.map((p) => (p.name === 'Request history' ? { ...p, p99: 3, errors: 120 } : p)) };
    expect(verdictOf(run, 'p99 under')).toEqual({
      budget: 'p99 under 50 ms on every page',
      met: false,
      measured: '4 of 5 over: worst Approve a request (POST) 332 ms, best Overview 112 ms; 1 page not served or answering errors',
    });
    const fast = { ...run, pages: run.pages.map((p) => ({ ...p, p99: 10 })) };
    expect(verdictOf(fast, 'p99 under').met).toBe(false);
  });

  it('judges the sweep only when enough items fell due', () => {
    expect(verdictOf({ ...lastRun, sweep: { seconds: 9.5, dueItems: 100_000 } }, 'sweep')).toMatchObject({ met: true, measured: '9.5 s for 100,000 due items' });
    expect(verdictOf({ ...lastRun, sweep: { seconds: 0.04, dueItems: 12 } }, 'sweep')).toMatchObject({ met: false, measured: '0.0 s for 12 due items (too few to judge)' });
  });

  it('shows the emails written after the sweep beside it, without counting them in its time', () => {
    expect(verdictOf({ ...lastRun, sweep: { seconds: 9.1, dueItems: 100_000, emails: { count: 203_710, seconds: 5.04 } } }, 'sweep')).toMatchObject({
      met: true,
      measured: '9.1 s for 100,000 due items; then its 203,710 emails written to the outbox in 5.0 s (14.1 s with them)',
    });
  });

  it('meets the ceiling budget at 35 % and fails it just below', () => {
    const withAvailable = (rps: number) => ({ ...lastRun, ceilingRps: 1000, pages: lastRun.pages.map((p) => (p.name === 'Available' ? { ...p, rps } : p)) });
    expect(verdictOf(withAvailable(350), 'Available')).toMatchObject({ met: true, measured: '35.0 %' });
    expect(verdictOf(withAvailable(349), 'Available')).toMatchObject({ met: false, measured: '34.9 %' });
  });

  it('shows beside the ceiling budget what the stack serves with no page behind it', () => {
    const run = { ...lastRun, stackFloors: [{ name: 'Express', rps: 28_000 }, { name: 'Express, signed in', rps: 11_500 }] };
    expect(verdictOf(run, 'Available')).toMatchObject({ met: false, measured: '0.6 %; the same bytes with no page behind them: Express 44 %, Express, signed in 18 %' });
  });

  it('does not count a page that was not served as fast, and leaves out what the run did not do', () => {
    const run = { ...lastRun, pages: lastRun.pages.map((p) => ({ ...p, p99: 10, served: p.name !== 'Available' })), sweep: undefined, loadSeconds: undefined };
    const verdicts = judgeBudgets(run);
    expect(verdicts.find((v) => v.budget.startsWith('p99 under'))).toEqual({ budget: 'p99 under 50 ms on every page', met: false, measured: '1 page not served or answering errors' });
    expect(verdicts.find((v) => v.budget.startsWith('Available'))).toMatchObject({ met: false, measured: 'not served, or answering errors' });
    expect(verdicts.some((v) => v.budget.startsWith('sweep') || v.budget.startsWith('loading'))).toBe(false);
  });
});

describe('reading wrk’s output', () => {
  it('takes requests per second, the median and the 99th percentile in ms, and counts errors', () => {
    const output = `Running 10s test @ http://127.0.0.1:41000/requests
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    37.01ms   10.12ms 120.30ms   71.20%
    Req/Sec   434.12     50.01   540.00     70.00%
  Latency Distribution
     50%   35.72ms
     75%   41.00ms
     90%   49.50ms
     99%   65.66ms
  8676 requests in 10.04s, 27.10MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:    863.90
Transfer/sec:      2.70MB
`;
    expect(parseWrk(output)).toEqual({ requests: 8676, rps: 863.9, p50: 35.72, p99: 65.66, errors: 6 });
    expect(parseWrk(output.replace('99%   65.66ms', '99%    1.20s')).p99).toBe(1200);
    expect(() => parseWrk('wrk: connection refused')).toThrow(/no 50% latency/);
  });
});
