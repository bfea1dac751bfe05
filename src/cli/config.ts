import { ConfigError, loadConfig, type Config } from '../config.ts';

/** The configuration from the environment; on a problem, its message on standard error and exit with `exitCode`. */
export function configOrExit(exitCode: number): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(exitCode);
    }
    throw err;
  }
}
