import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { createTestApp, seedDirectory, TEST_PASSWORD, testConfig, type TestApp } from './app.ts';
import { createTestDatabase } from './db.ts';
import { fabrikam } from './fixtures.ts';

// Crashed browser runs leave profile folders behind: keep them inside the project.
const TMP = path.resolve('.tmp');
mkdirSync(TMP, { recursive: true });
process.env.TMPDIR = TMP;

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface BrowserHarness extends TestApp {
  baseUrl: string;
  browser: Browser;
  /** A fresh browser profile; `javaScript: false` blocks every script, as a browser without JS would. */
  newPage(options?: { javaScript?: boolean }): Promise<Page>;
  close(): Promise<void>;
}

/**
 * The real app served over HTTP on 127.0.0.1, and Debian's Chromium driven by playwright-core.
 * BASE_URL is the server's real address (links in emails, single sign-on callbacks).
 */
export async function startBrowserHarness(database: Database): Promise<BrowserHarness> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server: Server = await new Promise((resolve) => {
    const s = createServer((req, res) => handler(req, res));
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as { port: number };
  const t = createTestApp(database, { config: testConfig({ BASE_URL: `http://127.0.0.1:${port}` }) });
  handler = t.app;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const contexts: BrowserContext[] = [];
  return {
    ...t,
    baseUrl: `http://127.0.0.1:${port}`,
    browser,
    async newPage(options = {}) {
      const context = await browser.newContext({ baseURL: `http://127.0.0.1:${port}`, viewport: { width: 1280, height: 900 } });
      contexts.push(context);
      if (options.javaScript === false) {
        // axe cannot run with JavaScript disabled in the context, so scripts are refused instead.
        await context.route(/\.m?js(\?|$)/, (route) => route.abort());
      }
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      return page;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Runs axe-core on the page as it is now and fails on any WCAG 2.2 A/AA violation, naming each. */
export async function expectAccessible(page: Page, label = page.url()): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
  const problems = results.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`);
  expect(problems, `axe violations on ${label}`).toEqual([]);
}

/** Goes to a page and checks it with axe. */
export async function visit(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await expectAccessible(page, url);
}

export async function signInWithBrowser(page: Page, email: string, password = TEST_PASSWORD): Promise<void> {
  await page.goto('/sign-in');
  await expectAccessible(page, 'sign-in');
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/sign-in'));
}

/** htmx has finished: no request in flight and the swap settled. */
export async function htmxSettled(page: Page): Promise<void> {
  await page.waitForFunction(() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling'));
}

/**
 * A test file's browser harness on a database of its own, seeded with `directory` (Fabrikam unless
 * given); closeSeededBrowser ends both.
 */
export async function startSeededBrowser(directory: unknown = fabrikam()): Promise<{ database: Database; h: BrowserHarness }> {
  const database = await createTestDatabase();
  const h = await startBrowserHarness(database);
  await seedDirectory(database, directory, h.clock);
  return { database, h };
}

export async function closeSeededBrowser(h: BrowserHarness | undefined, database: Database | undefined): Promise<void> {
  await h?.close();
  await database?.close();
}
