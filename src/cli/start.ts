import { createLogger } from '../log.ts';
import { startPortico } from '../server.ts';
import { configOrExit } from './config.ts';

const config = configOrExit(1);
const logger = createLogger(config.logLevel);
const portico = await startPortico(config, { logger });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    const force = setTimeout(() => {
      logger.warn('requests still running after 20 s: exiting anyway');
      process.exit(1);
    }, 20_000);
    force.unref();
    portico.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  });
}
