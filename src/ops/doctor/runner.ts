import type { ServiceConfig } from '../../config/schema.js';
import { BridgeError, errorAdvice, errorCode } from '../../errors/index.js';
import { chatwootChecks } from './chatwoot.js';
import { glpiChecks } from './glpi.js';
import { hookConfigChecks } from './hook-config.js';
import { queueChecks, redisChecks, spoolCheck, writeBackCheck } from './service.js';
import type { DoctorCheck, DoctorDeps, DoctorReport } from './types.js';

/**
 * Runs the checks in order: configuration, spool, Redis and the queue, then per hook its
 * configuration, queue, write-backs, GLPI and Chatwoot. One file per group of checks beside this one.
 */
export async function runDoctor(deps: DoctorDeps): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck) => checks.push(check);

  let config: ServiceConfig;
  try {
    config = deps.loadConfig();
    add({ id: 'config', hookId: undefined, title: 'configuration valid', status: 'pass', detail: `${config.hooks.size} hook(s): ${[...config.hooks.keys()].join(', ')}` });
  } catch (err) {
    add({
      id: 'config',
      hookId: undefined,
      title: 'configuration valid',
      status: 'fail',
      detail: err instanceof Error ? err.message : String(err),
      fix: errorAdvice(err) ?? 'fix the variable named above (see README, Configuration)',
      // A configuration that does not load is a configuration error whatever threw it.
      code: err instanceof BridgeError ? errorCode(err) : 'CONFIG_INVALID',
    });
    return finish(checks);
  }

  let hooks = [...config.hooks.values()];
  if (deps.hookId !== undefined) {
    const hook = config.hooks.get(deps.hookId);
    if (hook === undefined) {
      add({
        id: 'hook',
        hookId: deps.hookId,
        title: `hook "${deps.hookId}" configured`,
        status: 'fail',
        detail: `no hook "${deps.hookId}"`,
        fix: `use one of: ${[...config.hooks.keys()].join(', ')}`,
      });
      return finish(checks);
    }
    hooks = [hook];
  }

  await spoolCheck(config, add);
  const connection = await redisChecks(config, deps, add);
  const queue = connection?.queue;
  try {
    for (const hook of hooks) {
      hookConfigChecks(hook, add);
      if (connection) await queueChecks(hook, connection.queue, add);
      if (connection && hook.chatwoot.api) await writeBackCheck(hook, connection.redis, config, add, deps.now);
      await glpiChecks(hook, deps, add);
      await chatwootChecks(hook, deps, add);
    }
  } finally {
    await queue?.close().catch(() => undefined);
    connection?.redis.disconnect();
  }
  return finish(checks);
}

function finish(checks: DoctorCheck[]): DoctorReport {
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}
