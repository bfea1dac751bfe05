import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { cliEnv } from './cli.ts';

const NODE = path.resolve('node_modules/.bin/node');

export interface PorticoProcess {
  url: string;
  child: ChildProcess;
  logs(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `npm start`'s entry point as its own process, on a free port, and waits until it listens. */
export async function startPorticoProcess(env: Record<string, string>): Promise<PorticoProcess> {
  const child = spawn(NODE, [path.resolve('src/cli/start.ts')], {
    env: cliEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', SESSION_SECRET: 'a-shared-secret-for-several-portico-processes', ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Portico did not start:\n${output}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /"url":"(http:\/\/[^"]+)".*"msg":"Portico is listening"/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`Portico exited with ${code}:\n${output}`)));
  });
  return {
    url,
    child,
    logs: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A tiny browser: fetch with a cookie jar, CSRF tokens scraped from forms. */
export class Client {
  private cookies = new Map<string, string>();
  base: string;
  constructor(base: string) {
    this.base = base;
  }
  async fetch(pathOrUrl: string, init: RequestInit = {}): Promise<Response> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : this.base + pathOrUrl;
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      this.cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  }
  async post(path: string, fields: Record<string, string>, formPage = path): Promise<Response> {
    const page = await (await this.fetch(formPage)).text();
    const token = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    return this.fetch(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: token, ...fields }) });
  }
  async signIn(email: string, password: string): Promise<void> {
    const res = await this.post('/sign-in', { email, password }, '/sign-in');
    if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
  }
  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }
  /** Moves this client's cookies to another server (a second process behind the same load balancer). */
  at(base: string): Client {
    const other = new Client(base);
    other.cookies = new Map(this.cookies);
    return other;
  }
}
