import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { tempDir } from '../support/temp.ts';

const dataDir = () => tempDir('config-');

describe('configuration', () => {
  it('starts with sensible defaults on the embedded database', () => {
    const dir = dataDir();
    const config = loadConfig({ DATA_DIR: dir });
    expect(config).toMatchObject({ env: 'development', port: 3000, host: '127.0.0.1', databaseUrl: undefined, baseUrl: 'http://127.0.0.1:3000', logLevel: 'info', trustProxy: false });
    // Outside production a session secret is made once and kept in the data directory.
    expect(config.sessionSecret).toBe(readFileSync(path.join(dir, 'session-secret'), 'utf8').trim());
    expect(loadConfig({ DATA_DIR: dir }).sessionSecret).toBe(config.sessionSecret);
  });

  it('refuses bad values with one line per problem', () => {
    let error: unknown;
    try {
      loadConfig({ DATA_DIR: dataDir(), PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', BASE_URL: 'ftp://x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^Invalid configuration:/);
    expect(message).toContain('PORT: must be a whole number from 0 to 65535');
    expect(message).toContain('DATABASE_URL: must start with postgres:// or postgresql://');
    expect(message).toContain('LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent');
    expect(message).toContain('BASE_URL: must be an http:// or https:// address');
    expect(() => loadConfig({ DATA_DIR: dataDir(), SWEEP_INTERVAL_SECONDS: '1.5' })).toThrow('SWEEP_INTERVAL_SECONDS: must be a whole number of seconds');
  });

  it('requires SESSION_SECRET in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir() })).toThrow('SESSION_SECRET: required when NODE_ENV=production');
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir(), SESSION_SECRET: 'short' })).toThrow('SESSION_SECRET: must be at least 32 characters');
    expect(loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir(), SESSION_SECRET: 'x'.repeat(32) }).sessionSecret).toBe('x'.repeat(32));
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ DATA_DIR: dataDir(), PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 3000, databaseUrl: undefined });
  });
});
