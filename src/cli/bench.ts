import { runBenchmark, SCALES } from '../perf/bench.ts';
import { wrkAvailable } from '../perf/wrk.ts';

const USAGE = `usage: npm run bench -- [--scale entra|5x|small|tiny] [--seconds 10] [--warm-up 3] [--connections 32] [--threads 2] [--log-level info] [--node-options TEXT] [--database URL]

Starts a throwaway PostgreSQL (Debian's postgresql package), loads the generated directory, starts
Portico with NODE_ENV=production and drives it with wrk (each page under load for --warm-up
seconds first, not measured). With --database it uses that database
as it is (already loaded with npm run generate; the run changes its data).`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opts: Record<string, string> = {};
for (let i = 0; i < args.length; i++) {
  const m = /^--(scale|seconds|warm-up|connections|threads|database|log-level|node-options)$/.exec(args[i]);
  if (!m || args[i + 1] === undefined) fail(`unknown or incomplete option: ${args[i]}`);
  opts[m[1]] = args[++i];
}
const scale = SCALES[opts.scale ?? 'entra'];
if (!scale) fail(`--scale must be one of ${Object.keys(SCALES).join(', ')}`);
const number = (name: string, fallback: number) => {
  const n = Number(opts[name] ?? fallback);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive whole number`);
  return n;
};
if (!wrkAvailable()) {
  process.stderr.write('The benchmark needs wrk, the HTTP load generator: apt-get install -y wrk (Debian).\n');
  process.exit(2);
}
await runBenchmark({
  scale,
  seconds: number('seconds', 10),
  warmUpSeconds: number('warm-up', 3),
  connections: number('connections', 32),
  threads: number('threads', 2),
  databaseUrl: opts.database,
  logLevel: opts['log-level'] ?? 'info',
  nodeOptions: opts['node-options'],
  out: (line) => process.stdout.write(`${line}\n`),
});
