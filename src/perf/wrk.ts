import { execFile, execFileSync } from 'node:child_process';

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  /** Responses that were not 2xx or 3xx, and socket errors. */
  errors: number;
}

export function wrkAvailable(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its version.
    return (err as { code?: string }).code !== 'ENOENT';
  }
}

function ms(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

export function parseWrk(output: string): LoadResult {
  const latency = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
    if (!m) throw new Error(`wrk printed no ${p}% latency:\n${output}`);
    return ms(m[1], m[2]);
  };
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requests, rps, p50: latency('50'), p99: latency('99'), errors: non2xx + socketErrors };
}

/** Runs wrk against one URL and returns its figures (latency percentiles in milliseconds). */
export function runWrk(url: string, options: { seconds: number; connections: number; threads: number; headers?: Record<string, string>; script?: string }): Promise<LoadResult & { output: string }> {
  const args = ['-t', String(options.threads), '-c', String(options.connections), '-d', `${options.seconds}s`, '--timeout', '10s', '--latency'];
  for (const [k, v] of Object.entries(options.headers ?? {})) args.push('-H', `${k}: ${v}`);
  if (options.script) args.push('-s', options.script);
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stdout}\n${stderr}`));
      try {
        resolve({ ...parseWrk(stdout), output: stdout });
      } catch (e) {
        reject(e);
      }
    });
  });
}

const lua = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * A wrk script that sends a different POST each time, from a list (each thread takes every
 * n-th item, so no item is sent twice). When the list runs out it starts again: those repeats are
 * refused and counted as errors, so the list must be longer than the run needs.
 */
export function postScript(items: { path: string; body: string; cookie: string }[], threads: number, headers: Record<string, string>): string {
  const lines = items.map((i) => `{${lua(i.path)},${lua(i.body)},${lua(i.cookie)}}`);
  const extra = Object.entries(headers)
    .map(([k, v]) => `h[${lua(k)}] = ${lua(v)}`)
    .join('\n  ');
  return `local items = {
${lines.join(',\n')}
}
local counter = 0
local count = 0
function setup(thread)
  thread:set("tid", count)
  count = count + 1
end
function request()
  local i = ((tid + counter * ${threads}) % #items) + 1
  counter = counter + 1
  local item = items[i]
  local h = {}
  h["Cookie"] = item[3]
  h["Content-Type"] = "application/x-www-form-urlencoded"
  ${extra}
  return wrk.format("POST", item[1], h, item[2])
end
`;
}
