import type { RedisConnection } from './connection.js';

/** Runs a pipeline (or MULTI) and returns its replies in order; the first failed command throws. */
export async function execPipeline(pipeline: ReturnType<RedisConnection['pipeline']>): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
