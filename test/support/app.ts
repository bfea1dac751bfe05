import type { Express } from 'express';
import supertest from 'supertest';
import { createApp } from '../../src/app.ts';
import { systemActor } from '../../src/audit/audit.ts';
import { FixedClock } from '../../src/clock.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Database } from '../../src/db/connect.ts';
import { importDirectory } from '../../src/directory/import.ts';
import { createLogger } from '../../src/log.ts';
import { createServices, type Services } from '../../src/services.ts';
import { tempDir } from './temp.ts';

export const TEST_PASSWORD = 'test-password-123';

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: tempDir('data-'),
    SESSION_SECRET: 'test-secret-that-is-long-enough-for-portico',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    BASE_URL: 'http://127.0.0.1:3000',
    ...overrides,
  });
}

export interface TestApp {
  app: Express;
  database: Database;
  clock: FixedClock;
  config: Config;
  services: Services;
}

/** The real app on a test database, with a clock the test controls. */
export function createTestApp(database: Database, options: { clock?: FixedClock; config?: Config } = {}): TestApp {
  const clock = options.clock ?? new FixedClock('2027-01-15T09:00:00Z');
  const config = options.config ?? testConfig();
  const logger = createLogger(config.logLevel);
  const services = createServices({ db: database.db, clock, config, logger });
  const app = createApp({ config, db: database.db, clock, logger, services });
  return { app, database, clock, config, services };
}

/** Imports a directory file (as an object) and fails the test loudly if it does not import. */
export async function seedDirectory(database: Database, file: unknown, clock: FixedClock): Promise<void> {
  const result = await importDirectory(database.db, file, { dryRun: false, clock, actor: systemActor('test') });
  if (!result.ok) throw new Error(`seed failed:\n${result.problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`);
}

export type Agent = ReturnType<typeof supertest.agent>;

/** The CSRF token of the form on a page, scraped as a browser would submit it. */
export function csrfFrom(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1];
}

/** Signs in through the real form; when the account exists in several directories, picks `directory` (a name). */
export async function signIn(app: Express, email: string, options: { password?: string; directory?: string } = {}): Promise<Agent> {
  const agent = supertest.agent(app);
  const page = await agent.get('/sign-in');
  let res = await agent.post('/sign-in').type('form').send({ _csrf: csrfFrom(page.text), email, password: options.password ?? TEST_PASSWORD, returnTo: '/' });
  if (res.status === 303 && res.headers.location === '/sign-in/directory') {
    const choose = await agent.get('/sign-in/directory');
    const name = options.directory ?? 'Fabrikam';
    const m = new RegExp(`value="([0-9a-f-]{36})"[^>]*>\\s*<label class="radios__label" for="[^"]+">${name}</label>`).exec(choose.text);
    if (!m) throw new Error(`sign-in as ${email}: directory ${name} not offered`);
    res = await agent.post('/sign-in/directory').type('form').send({ _csrf: csrfFrom(choose.text), account: m[1] });
  }
  if (res.status !== 303 || res.headers.location !== '/') throw new Error(`sign-in as ${email} failed: ${res.status}`);
  return agent;
}

/** GETs a page and posts one of its forms with the scraped token plus the given fields. */
export async function postForm(agent: Agent, pagePath: string, action: string, fields: Record<string, string | string[]>) {
  const page = await agent.get(pagePath);
  return agent.post(action).type('form').send({ _csrf: csrfFrom(page.text), ...fields });
}
