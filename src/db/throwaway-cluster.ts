import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from '../shared/net.ts';
import os from 'node:os';
import path from 'node:path';

/**
 * A PostgreSQL server of our own, in a temporary directory on 127.0.0.1 and a free port, for tests
 * and benchmarks. Uses Debian's server binaries; as root it runs them as the `postgres` user,
 * because initdb refuses to run as root.
 */
export interface ThrowawayCluster {
  url(database?: string): string;
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export function findPostgresBin(): string {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv && existsSync(path.join(fromEnv, 'initdb'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error('PostgreSQL server binaries not found: install Debian\'s postgresql package or set PG_BIN');
  }
  return path.join(root, versions[0], 'bin');
}

export async function startThrowawayCluster(options: { settings?: Record<string, string> } = {}): Promise<ThrowawayCluster> {
  const bin = findPostgresBin();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-pg-'));
  const dataDir = path.join(dir, 'data');
  if (asRoot) {
    chmodSync(dir, 0o777);
  }
  const run = (cmd: string, args: string[]) =>
    asRoot ? execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { stdio: 'pipe' })
      : execFileSync(path.join(bin, cmd), args, { stdio: 'pipe' });
  run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  const port = await freePort();
  const settings = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: dir,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    max_connections: '200',
    ...options.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  let log = '';
  let child: ChildProcess;
  let exited: Promise<void>;
  const launch = async () => {
    child = asRoot
      ? spawn('runuser', ['-u', 'postgres', '--', path.join(bin, 'postgres'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(path.join(bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitUntilReady(bin, port, asRoot, () => log, child);
  };
  const halt = async (signal: 'SIGINT' | 'SIGKILL') => {
    // Signal the postmaster itself: runuser does not pass signals on.
    const pidFile = path.join(dataDir, 'postmaster.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : undefined;
    if (child.exitCode === null && pid) {
      process.kill(pid, signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
      if (child.exitCode === null) process.kill(pid, 'SIGKILL');
    }
  };
  await launch();
  return {
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    /** Stops the server but keeps its data (to test an outage); `resume` starts it again on the same port. */
    pause: () => halt('SIGINT'),
    resume: () => launch(),
    async stop() {
      await halt('SIGINT'); // fast shutdown
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitUntilReady(bin: string, port: number, asRoot: boolean, log: () => string, child: ChildProcess) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`PostgreSQL exited while starting:\n${log()}`);
    try {
      const args = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-q'];
      if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_isready'), ...args], { stdio: 'ignore' });
      else execFileSync(path.join(bin, 'pg_isready'), args, { stdio: 'ignore' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`PostgreSQL did not start within 30 s:\n${log()}`);
}
