import { spawn } from 'node:child_process';
import path from 'node:path';

const NODE = path.resolve('node_modules/.bin/node');

/** Runs one of Portico's commands (src/cli/<script>) as an operator would, with Node 24. */
export function cli(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [path.resolve('src/cli', script), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The environment for a command: the test's, without Vite's BASE_URL=/ and without a DATABASE_URL unless given. */
export function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const { DATABASE_URL: _url, BASE_URL: _base, ...rest } = process.env;
  return { ...rest, LOG_LEVEL: 'warn', NODE_ENV: 'test', ...extra };
}
