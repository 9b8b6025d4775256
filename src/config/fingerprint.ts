import { createHash } from 'node:crypto';
import type { ServiceConfig } from './schema.js';

/** The two hash commands used here (config stays below the Redis module: any ioredis client fits). */
interface HashStore {
  hset(key: string, field: string, value: string): Promise<unknown>;
  hgetall(key: string): Promise<Record<string, string>>;
}

/**
 * A fixed configuration only takes effect after a restart, and nothing said so: `doctor` read the
 * new `.env` and passed while the running service still used the old token. The running service
 * publishes a fingerprint of its configuration in Redis; `doctor` and `replay` compare theirs.
 *
 * The fingerprint is one SHA-256 over the whole canonical configuration, secrets included (a new
 * token must change it), truncated: it reveals no value and no single secret can be tested
 * against it. Per-process settings (role, port, host, log level, concurrency, file paths, the Redis
 * URL the reader already shares) are left out, so the api and the worker of one deployment agree.
 */
interface PublishedFingerprint {
  role: string;
  fingerprint: string;
  publishedAt: string;
}

export function configFingerprint(config: ServiceConfig): string {
  const relevant = {
    redisKeyPrefix: config.redisKeyPrefix,
    bodyLimitBytes: config.bodyLimitBytes,
    adminToken: config.adminToken ?? null,
    glpiTimeoutMs: config.glpiTimeoutMs,
    hooks: [...config.hooks.values()].sort((a, b) => a.id.localeCompare(b.id)),
  };
  return createHash('sha256').update(canonicalJson(relevant)).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted and Maps/Sets as sorted arrays, so equal configurations hash alike. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Map) return [...v.entries()].sort(([a], [b]) => String(a).localeCompare(String(b)));
    if (v instanceof Set) return [...v].sort();
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
    }
    return v;
  });
}

export async function publishFingerprint(redis: HashStore, key: string, config: ServiceConfig, now = new Date()): Promise<void> {
  const entry: PublishedFingerprint = { role: config.role, fingerprint: configFingerprint(config), publishedAt: now.toISOString() };
  await redis.hset(key, config.role, JSON.stringify(entry));
}

/** What running services published whose fingerprint differs from `config`'s (empty: all agree or none published). */
export async function differingFingerprints(redis: HashStore, key: string, config: ServiceConfig): Promise<{ mine: string; published: PublishedFingerprint[]; differing: PublishedFingerprint[] }> {
  const mine = configFingerprint(config);
  const published: PublishedFingerprint[] = [];
  for (const raw of Object.values(await redis.hgetall(key))) {
    try {
      const entry = JSON.parse(raw) as Partial<PublishedFingerprint>;
      if (typeof entry.fingerprint === 'string' && typeof entry.role === 'string') {
        published.push({ role: entry.role, fingerprint: entry.fingerprint, publishedAt: String(entry.publishedAt ?? 'unknown') });
      }
    } catch {
      // Not ours to judge: an unreadable entry is ignored, a restart rewrites it.
    }
  }
  return { mine, published, differing: published.filter((p) => p.fingerprint !== mine) };
}

export function restartAdvice(differing: readonly PublishedFingerprint[]): string {
  const who = differing.map((d) => `ROLE=${d.role} (started ${d.publishedAt})`).join(', ');
  return `the running service ${who} uses a different configuration than this one: restart the service so that it takes effect`;
}
