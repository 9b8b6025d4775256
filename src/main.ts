import { loadConfig, loadDotEnv } from './config/load.js';
import { dotEnvHint } from './config/dotenv-hint.js';
import { ConfigError } from './errors/index.js';
import { createLogger } from './logger.js';
import { startRuntime, type RuntimeOptions } from './runtime.js';

/**
 * The service as a process: configuration, logger, the runtime for ROLE, graceful shutdown on
 * SIGTERM/SIGINT (a second signal exits at once). `src/server.ts` runs it; the reliability tests
 * run the same function with worker tuning.
 */
export async function runService(options: RuntimeOptions = {}): Promise<void> {
  loadDotEnv();
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  const logger = createLogger(config.logLevel);
  for (const hook of config.hooks.values()) {
    for (const warning of hook.warnings) logger.warn({ hookId: hook.id }, warning);
  }
  const runtime = await startRuntime(config, logger, options).catch(exitOnConfigError);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: no new webhooks, finishing in-flight jobs');
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
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** A configuration error stops the process with EX_CONFIG (78) and the fix; anything else is rethrown. */
function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    const hint = dotEnvHint();
    console.error(`chatwoot-glpi-bridge: invalid configuration: ${err.message}${err.advice ? `\n  fix: ${err.advice}` : ''}${hint ? `\n  ${hint}` : ''}`);
    process.exit(78); // EX_CONFIG
  }
  throw err;
}
