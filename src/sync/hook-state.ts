import type { RedisConnection } from '../redis/connection.js';
import type { RedisKeys } from '../redis/keys.js';

/**
 * What the workers last learnt about each hook's GLPI, for `/ready` and `doctor`: written by the
 * job runner, read by the health route. One Redis hash per hook; the field names live only here.
 */
export interface HookState {
  lastGlpiSuccessAt: string | null;
  /** GLPI's version ("11.0.8") as the hook's session last reported it. */
  glpiVersion: string | null;
  lastErrorAt: string | null;
  lastErrorCode: string | null;
  lastErrorAdvice: string | null;
  /**
   * false while the last GLPI error is newer than the last success; null until the hook reached
   * GLPI once (a hook that never ran a job is not known to work).
   */
  glpiOk: boolean | null;
}

export class HookStateStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: RedisKeys,
  ) {}

  async noteSuccess(hookId: string, at: Date, glpiVersion: string | undefined): Promise<void> {
    await this.redis.hset(this.keys.hookState(hookId), {
      lastGlpiSuccessAt: at.toISOString(),
      ...(glpiVersion === undefined ? {} : { glpiVersion }),
    });
  }

  async noteError(hookId: string, at: Date, code: string, advice: string | undefined): Promise<void> {
    await this.redis.hset(this.keys.hookState(hookId), {
      lastErrorAt: at.toISOString(),
      lastErrorCode: code,
      lastErrorAdvice: advice ?? '',
    });
  }

  /**
   * One HGETALL per hook, not one pipeline: on a Redis Cluster each hook's state sits in its own
   * slot (a cross-slot pipeline is refused); ioredis still writes them back to back.
   */
  async readMany(hookIds: readonly string[]): Promise<Map<string, HookState>> {
    const raw = await Promise.all(hookIds.map((id) => this.redis.hgetall(this.keys.hookState(id))));
    return new Map(hookIds.map((id, i) => [id, toHookState(raw[i] ?? {})]));
  }
}

function toHookState(state: Record<string, string>): HookState {
  const lastOk = epochMs(state.lastGlpiSuccessAt);
  const lastError = epochMs(state.lastErrorAt);
  return {
    lastGlpiSuccessAt: state.lastGlpiSuccessAt ?? null,
    glpiVersion: state.glpiVersion ?? null,
    lastErrorAt: state.lastErrorAt ?? null,
    lastErrorCode: state.lastErrorCode ?? null,
    lastErrorAdvice: state.lastErrorAdvice ?? null,
    glpiOk: lastOk === 0 && lastError === 0 ? null : lastError === 0 || lastOk >= lastError,
  };
}

/** A stored ISO time as epoch ms; 0 when missing or unreadable (never NaN, which compares as neither). */
function epochMs(iso: string | undefined): number {
  const ms = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isFinite(ms) ? ms : 0;
}
