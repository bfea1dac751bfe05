import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON lines on standard error, so command-line tools keep standard output for their results. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'portico' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));
}
