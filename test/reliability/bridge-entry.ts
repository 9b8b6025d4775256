import { runService } from '../../src/main.js';
import type { RuntimeOptions } from '../../src/runtime.js';

/**
 * The service exactly as src/server.ts runs it (same configuration, signals and shutdown), plus
 * the worker tuning server.ts does not read from the environment (CGB_TEST_WORKER_TUNING, JSON of
 * RuntimeOptions['worker']), so a killed worker's job is recovered in seconds instead of 30 s.
 */
const worker = JSON.parse(process.env.CGB_TEST_WORKER_TUNING ?? '{}') as RuntimeOptions['worker'];
await runService({ worker });
