import { DEFAULTS } from '../../config/defaults.js';
import type { RedisKeys } from '../../redis/keys.js';
import type { RedisConnection } from '../../redis/connection.js';

/**
 * The GLPI -> Chatwoot direction's memory, per hook (all under `<prefix>:g2c:<hookId>`):
 *
 *   :cursor          hash   cursor (largest ticket date_mod seen, GLPI's own string), atCursor
 *                           (JSON list of "ticketId@date_mod" already handled at that cursor),
 *                           since (the first cursor: items created before it are history)
 *   :items:<ticket>  hash   "f<id>" / "s<id>" (followup / solution) -> "m<messageId>" posted,
 *                           "-<reason>" not sent, "?<ms>" intent (a post may be under way)
 *   :echo:<message>  string the bridge posted this Chatwoot message (expires): its webhook is skipped
 *   :nudge:<sha>     string a GLPI webhook already seen (dedupe, expires)
 *
 * Written only under the hook's mutex (the poll job), so no two pollers race on them. No expiry
 * on item records: a ticket quiet for months must not have its old followups sent again.
 */

export type ItemKey = `f${number}` | `s${number}`;

export type ItemRecord = { state: 'none' } | { state: 'posted'; messageId: number } | { state: 'skipped'; reason: string } | { state: 'intent'; at: number };

interface CursorState {
  cursor: string | undefined;
  atCursor: Set<string>;
  since: string | undefined;
}

/** Under `keys.g2c(hookId)`: on a Redis Cluster a hash tag, so the hook's keys share one slot (MULTI). */
function g2cKeys(root: string) {
  return {
    root,
    cursor: `${root}:cursor`,
    items: (ticketId: number) => `${root}:items:${ticketId}`,
    echo: (messageId: number) => `${root}:echo:${messageId}`,
    nudge: (digest: string) => `${root}:nudge:${digest}`,
  };
}

export class G2cRecords {
  private readonly keys: ReturnType<typeof g2cKeys>;

  constructor(
    private readonly redis: RedisConnection,
    keys: RedisKeys,
    readonly hookId: string,
  ) {
    this.keys = g2cKeys(keys.g2c(hookId));
  }

  async readCursor(): Promise<CursorState> {
    const hash = await this.redis.hgetall(this.keys.cursor);
    let atCursor: string[] = [];
    try {
      const parsed: unknown = JSON.parse(hash.atCursor ?? '[]');
      if (Array.isArray(parsed)) atCursor = parsed.filter((v): v is string => typeof v === 'string');
    } catch {
      atCursor = [];
    }
    return { cursor: hash.cursor || undefined, atCursor: new Set(atCursor), since: hash.since || undefined };
  }

  async writeCursor(state: { cursor: string; atCursor: Iterable<string>; since: string }): Promise<void> {
    await this.redis.hset(this.keys.cursor, { cursor: state.cursor, atCursor: JSON.stringify([...state.atCursor]), since: state.since });
  }

  async readItems(ticketId: number): Promise<Map<string, ItemRecord>> {
    const hash = await this.redis.hgetall(this.keys.items(ticketId));
    return new Map(Object.entries(hash).map(([k, v]) => [k, parseItem(v)]));
  }

  async markIntent(ticketId: number, item: ItemKey, at: number): Promise<void> {
    await this.redis.hset(this.keys.items(ticketId), item, `?${at}`);
  }

  /** The item's message exists in Chatwoot: record it and remember the message as our own (echo). */
  async markPosted(ticketId: number, item: ItemKey, messageId: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.items(ticketId), item, `m${messageId}`)
      .set(this.keys.echo(messageId), item, 'EX', DEFAULTS.glpiToChatwoot.echoTtlS)
      .exec();
  }

  async markSkipped(ticketId: number, entries: Record<string, string>): Promise<void> {
    if (Object.keys(entries).length === 0) return;
    await this.redis.hset(this.keys.items(ticketId), Object.fromEntries(Object.entries(entries).map(([k, reason]) => [k, `-${reason}`])));
  }

  async isOwnMessage(messageId: number): Promise<boolean> {
    return (await this.redis.exists(this.keys.echo(messageId))) === 1;
  }

  /** True the first time this GLPI webhook is seen (SET NX). */
  async claimNudge(digest: string, ttlS: number): Promise<boolean> {
    return (await this.redis.set(this.keys.nudge(digest), '1', 'EX', ttlS, 'NX')) === 'OK';
  }

  async releaseNudge(digest: string): Promise<void> {
    await this.redis.del(this.keys.nudge(digest));
  }
}

function parseItem(raw: string): ItemRecord {
  if (raw.startsWith('m') && /^m\d+$/.test(raw)) return { state: 'posted', messageId: Number(raw.slice(1)) };
  if (raw.startsWith('?')) return { state: 'intent', at: Number(raw.slice(1)) || 0 };
  if (raw.startsWith('-')) return { state: 'skipped', reason: raw.slice(1) };
  return { state: 'none' };
}
