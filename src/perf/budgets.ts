/**
 * Issue 8's budgets, and the benchmark's verdict on a run: each budget met or not, with the figure
 * that decides it, so an operator reads the outcome instead of working it out from the tables.
 */
export const BUDGETS = {
  p99Ms: 50,
  availableShareOfCeiling: 0.35,
  firstLoadKb: 30,
  sweepSeconds: 10,
  sweepItems: 100_000,
  memoryMb: 300,
  loadSeconds: 120,
} as const;

export interface RunFigures {
  /** Every page and POST driven by wrk, with its p99 in ms and requests per second. */
  pages: { name: string; rps: number; p99: number; served: boolean; errors: number }[];
  availablePage: string;
  searchPage: string;
  ceilingRps: number;
  /** The same bytes served by the stack with no page behind them (Express; Express with a session): what no page of it can beat. */
  stackFloors?: { name: string; rps: number }[];
  searchUsesIndex: boolean;
  firstLoadKb: number;
  peakMemoryMb: number;
  /**
   * Undefined when the sweep or the load was not part of the run. The sweep's emails are written to
   * the outbox after it, from the events it left (`emails`): shown beside the sweep, not part of it.
   */
  sweep?: { seconds: number; dueItems: number; emails?: { count: number; seconds: number } };
  loadSeconds?: number;
}

export interface Verdict {
  budget: string;
  met: boolean;
  measured: string;
}

const ms = (n: number) => `${Math.round(n)} ms`;

export function judgeBudgets(f: RunFigures): Verdict[] {
  // A page that answered errors is not judged fast: an error page is quick to send.
  const served = f.pages.filter((p) => p.served && p.errors === 0);
  const missing = f.pages.length - served.length;
  const over = served.filter((p) => p.p99 >= BUDGETS.p99Ms).sort((a, b) => b.p99 - a.p99);
  const page = (name: string) => served.find((p) => p.name === name);
  const available = page(f.availablePage);
  const search = page(f.searchPage);
  const share = available && f.ceilingRps > 0 ? available.rps / f.ceilingRps : 0;
  const verdicts: Verdict[] = [
    {
      budget: `p99 under ${BUDGETS.p99Ms} ms on every page`,
      met: missing === 0 && over.length === 0,
      measured: [
        over.length ? `${over.length} of ${f.pages.length} over: worst ${over[0].name} ${ms(over[0].p99)}, best ${over.at(-1)!.name} ${ms(over.at(-1)!.p99)}` : '',
        missing ? `${missing} ${missing === 1 ? 'page' : 'pages'} not served or answering errors` : '',
        !over.length && !missing ? `worst ${ms(Math.max(...served.map((p) => p.p99)))}` : '',
      ].filter(Boolean).join('; '),
    },
    {
      budget: `Available at ${BUDGETS.availableShareOfCeiling * 100} % of the node:http ceiling or more`,
      met: share >= BUDGETS.availableShareOfCeiling,
      measured: [
        available ? `${(share * 100).toFixed(1)} %` : 'not served, or answering errors',
        f.stackFloors?.length && f.ceilingRps > 0
          ? `the same bytes with no page behind them: ${f.stackFloors.map((s) => `${s.name} ${((100 * s.rps) / f.ceilingRps).toFixed(0)} %`).join(', ')}`
          : '',
      ].filter(Boolean).join('; '),
    },
    {
      budget: `search p99 under ${BUDGETS.p99Ms} ms`,
      met: Boolean(search && search.p99 < BUDGETS.p99Ms),
      measured: search ? ms(search.p99) : 'not served, or answering errors',
    },
    { budget: 'search by an index, not a scan', met: f.searchUsesIndex, measured: f.searchUsesIndex ? 'no sequential scan in the plan' : 'the plan scans a table' },
    { budget: `first load under ${BUDGETS.firstLoadKb} KB compressed`, met: f.firstLoadKb < BUDGETS.firstLoadKb, measured: `${f.firstLoadKb.toFixed(1)} KB` },
    { budget: `server memory under ${BUDGETS.memoryMb} MB`, met: f.peakMemoryMb < BUDGETS.memoryMb, measured: `${Math.round(f.peakMemoryMb)} MB at peak` },
  ];
  if (f.sweep) {
    const { seconds, dueItems, emails } = f.sweep;
    const enough = dueItems >= BUDGETS.sweepItems;
    const then = emails ? `; then its ${emails.count.toLocaleString('en-GB')} emails written to the outbox in ${emails.seconds.toFixed(1)} s (${(seconds + emails.seconds).toFixed(1)} s with them)` : '';
    verdicts.push({
      budget: `sweep of ${BUDGETS.sweepItems.toLocaleString('en-GB')} due items under ${BUDGETS.sweepSeconds} s`,
      met: enough && seconds < BUDGETS.sweepSeconds,
      measured: `${seconds.toFixed(1)} s for ${dueItems.toLocaleString('en-GB')} due items${enough ? '' : ' (too few to judge)'}${then}`,
    });
  }
  if (f.loadSeconds !== undefined) {
    verdicts.push({ budget: `loading the data under ${BUDGETS.loadSeconds / 60} minutes`, met: f.loadSeconds < BUDGETS.loadSeconds, measured: `${Math.round(f.loadSeconds)} s` });
  }
  return verdicts;
}
