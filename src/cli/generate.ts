import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { hashPassword } from '../auth/password.ts';
import { DirectoryFileSink } from '../perf/directory-file.ts';
import { generate, SCALES } from '../perf/generate.ts';
import { loadIntoDatabase } from '../perf/load.ts';

const USAGE = `usage: npm run generate -- --scale entra|5x|small|tiny (--out FILE | --database URL) [--seed N] [--hint HINT] [--password TEXT]

  --out FILE        write a directory file (src/directory/FORMAT.md); the format has no requests,
                    so the file holds the directory, live assignments and review definitions
  --database URL    load straight into PostgreSQL (the default when DATABASE_URL is set):
                    requests, approval history, assignments, reviews and all
  every user's password is --password (default portico-bench-password)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opts: Record<string, string> = {};
for (let i = 0; i < args.length; i++) {
  const m = /^--(scale|out|database|seed|hint|password)$/.exec(args[i]);
  if (!m || args[i + 1] === undefined) fail(`unknown or incomplete option: ${args[i]}`);
  opts[m[1]] = args[++i];
}
const scale = SCALES[opts.scale ?? ''];
if (!scale) fail(`--scale must be one of ${Object.keys(SCALES).join(', ')}`);
const database = opts.database ?? (opts.out ? undefined : process.env.DATABASE_URL);
if (!opts.out && !database) fail('give --out FILE or --database URL (or set DATABASE_URL)');
if (database && !/^postgres(ql)?:\/\//.test(database)) fail('--database must be a postgres:// URL');
const seed = opts.seed ? Number(opts.seed) : 42;
if (!Number.isInteger(seed)) fail('--seed must be an integer');
const password = opts.password ?? 'portico-bench-password';
const hint = opts.hint ?? 'contoso-scale.example';

const started = Date.now();
const passwordHash = await hashPassword(password);
const options = { scale, now: new Date(), passwordHash, seed, hint };
const log = (line: string) => process.stderr.write(`${line}\n`);

if (opts.out) {
  const sink = new DirectoryFileSink();
  const result = await generate(sink, options);
  const out = createWriteStream(opts.out);
  for (const chunk of sink.toJsonChunks(result)) if (!out.write(chunk)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  log(`wrote ${opts.out}: ${sink.summary()} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  log(`import it with: npm run import -- ${opts.out}`);
} else {
  const result = await loadIntoDatabase(database!, options, log);
  log(`loaded ${result.rows.toLocaleString('en-GB')} rows (${scale.name}) in ${result.seconds.toFixed(1)} s:`);
  for (const [table, n] of Object.entries(result.counts)) log(`  ${table.padEnd(32)} ${n.toLocaleString('en-GB').padStart(12)}`);
}
log(`directory ${hint}: sign in as ada.admin@${hint} (administrator) or any generated user, password "${password}"`);
