import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { startRuntime, type RuntimeOptions } from '../../src/runtime.js';

/**
 * src/server.ts for reliability tests: the same runtime from the environment, plus the worker
 * tuning server.ts does not read from the environment (CGB_TEST_WORKER_TUNING, JSON of
 * RuntimeOptions['worker']), so a killed worker's job is recovered in seconds instead of 30 s.
 */
const config = loadConfig();
const logger = createLogger(config.logLevel);
const worker = JSON.parse(process.env.CGB_TEST_WORKER_TUNING ?? '{}') as RuntimeOptions['worker'];
const runtime = await startRuntime(config, logger, { worker });

process.once('SIGTERM', () => {
  logger.info({ signal: 'SIGTERM' }, 'shutting down: no new webhooks, finishing in-flight jobs');
  runtime
    .close()
    .then(() => {
      logger.info('shutdown complete');
      process.exit(0);
    })
    .catch((err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    });
});
