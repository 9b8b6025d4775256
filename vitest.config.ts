import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fails the run when a test leaves keys in the test database or in database 0.
    globalSetup: ['test/support/leftover-keys.ts'],
    // Real Redis and real local HTTP servers: generous per-test ceilings, never timing assertions.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: more parallel files than that only adds contention on Redis and the CPU.
    maxWorkers: 2,
  },
});
