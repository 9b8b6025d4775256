import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// The checker runs as CI runs it (`node scripts/check-architecture.mjs ROOT`) on small trees made
// here, so each rule is shown to catch what it claims to catch, and to pass a tree that keeps it.
const script = fileURLToPath(new URL('../../scripts/check-architecture.mjs', import.meta.url));
const roots: string[] = [];

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'arch-fixture-'));
  roots.push(root);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  return root;
}

function check(root: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, root], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('scripts/check-architecture.mjs', () => {
  it('passes a tree without cycles, long files or unused exports, with one summary line', async () => {
    const root = tree({
      'src/util/a.ts': 'export const a = 1;\n',
      'src/sync/b.ts': "import { a } from '../util/a.js';\nexport type B = { n: number };\nexport const b = a + 1;\n",
      'src/server.ts': "import { b } from './sync/b.js';\nimport type { B } from './sync/b.js';\nconst x: B = { n: b };\nexport const unusedButEntry = x;\n",
    });
    const { code, out } = await check(root);
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(out).toMatch(/3 files of src\/: no cycles/);
    expect(code).toBe(0);
  });

  it('reports file and folder cycles, the layer order, a long file and unused exports, and exits 1', async () => {
    const root = tree({
      // file cycle a -> b -> a inside util
      'src/util/a.ts': "import { b } from './b.js';\nexport const a = (): number => b + 1;\n",
      'src/util/b.ts': "import { a } from './a.js';\nexport const b = 1;\nexport const callsA = (): number => a();\n",
      // util (lowest layer) importing sync: against the layer order, and a folder cycle util <-> sync
      'src/util/low.ts': "import { high } from '../sync/high.js';\nexport const low = high;\n",
      'src/sync/high.ts': "import { a } from '../util/a.js';\nexport const high = a;\n",
      // 401 lines
      'src/sync/long.ts': `${Array.from({ length: 400 }, (_, i) => `// line ${i + 1}`).join('\n')}\nexport const long = 1;\n`,
      // an export nobody imports, and one used only inside its own file
      'src/sync/unused.ts': 'export function neverImported(): number { return 1; }\nexport const onlyHere = 2;\nconst twice = onlyHere * 2;\nexport { twice };\n',
      // a type-only import and a re-export count as uses
      'src/sync/reexport.ts': "export { low } from '../util/low.js';\nexport type { Shape } from './shape.js';\n",
      'src/sync/shape.ts': 'export interface Shape { n: number }\n',
      'test/uses.test.ts': "import { low, type Shape } from '../src/sync/reexport.js';\nimport { long } from '../src/sync/long.js';\nimport { twice } from '../src/sync/unused.js';\nimport { callsA } from '../src/util/b.js';\nconst s: Shape = { n: low + long + twice + callsA() };\nexport default s;\n",
    });
    const { code, out } = await check(root);
    expect(code).toBe(1);
    expect(out).toContain('util/a.ts -> util/b.ts -> util/a.ts');
    expect(out).toContain('sync -> util -> sync');
    expect(out).toMatch(/src\/util\/low\.ts:1 imports src\/sync\/high\.ts: util \(layer 0\) imports higher sync \(layer 6\)/);
    expect(out).toContain('src/sync/long.ts: 401 lines (max 400)');
    expect(out).toContain('src/sync/unused.ts:1 neverImported');
    expect(out).toContain('src/sync/unused.ts:2 onlyHere (only used inside its own file');
    // used through a re-export, a type-only import or an `export { }` list: not reported
    for (const used of ['low', 'Shape', 'twice', 'callsA', ' long', 'high']) expect(out).not.toMatch(new RegExp(`:\\d+ ${used.trim()}\\b`));
    expect(out).toMatch(/check-architecture: \d+ problem\(s\)/);
  });

  it('holds glpi and chatwoot apart: chatwoot reads only glpi/types.ts, glpi never chatwoot', async () => {
    const root = tree({
      'src/glpi/types.ts': 'export type Id = number;\n',
      'src/glpi/client.ts': "import { post } from '../chatwoot/api.js';\nexport const client = post;\n",
      'src/chatwoot/api.ts': "import type { Id } from '../glpi/types.js';\nexport const post = (id: Id): Id => id;\n",
      'src/chatwoot/uses-client.ts': "import { client } from '../glpi/client.js';\nexport const viaClient = client;\n",
      'src/server.ts': "import { viaClient } from './chatwoot/uses-client.js';\nexport const s = viaClient;\n",
    });
    const { code, out } = await check(root);
    expect(code).toBe(1);
    expect(out).toContain('src/glpi/client.ts:1 imports src/chatwoot/api.ts: glpi may not import chatwoot');
    expect(out).toContain('src/chatwoot/uses-client.ts:1 imports src/glpi/client.ts: chatwoot may not import glpi except glpi/types.ts');
    expect(out).not.toMatch(/src\/chatwoot\/api\.ts:\d+ imports/);
  });
});
