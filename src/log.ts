import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on standard error, so command-line tools keep standard output for their results.
 * Written asynchronously: a request does not wait for its log line to reach the file descriptor,
 * and lines logged while a write is in flight go out together in the next one. Nothing waits in a
 * buffer while the process is idle, and pino writes what is left synchronously when the process
 * exits (process.exit, the end of the event loop, an uncaught exception; the server exits through
 * process.exit on SIGTERM and SIGINT). Only a kill that skips exit handlers (SIGKILL) can lose the
 * last lines.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'portico' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: false }));
}
