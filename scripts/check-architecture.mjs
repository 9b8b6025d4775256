#!/usr/bin/env node
// Architecture check for src/ (issue #12), run by `.ci/run` and `npm run check:arch`:
//   * no import cycle between files, and none between the top-level folders of src/;
//   * the folder layering: a lower layer never imports a higher one (LAYERS below);
//   * no source file above MAX_LINES lines;
//   * no unused export: every exported name of a src file is imported by some other file of
//     src/, test/, bench/ or scripts/ (entry files excepted).
// Imports are resolved by the TypeScript compiler, and uses of an export by the type checker's
// symbol resolution (aliases followed through re-exports and `export *`), not by text matching.
// Usage: node scripts/check-architecture.mjs [rootDir]   (exit 1 with a list, 0 with one line)
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const MAX_LINES = 400;

// Lower index = lower layer; a folder may import its own layer and lower ones only. A top-level file
// of src/ (src/runtime.ts) is its own node, named by its base name without extension.
export const LAYERS = [
  ['util'],
  ['errors'],
  ['config'],
  ['redis'],
  ['metrics', 'logger'],
  ['glpi', 'chatwoot'],
  ['sync'],
  ['queue'],
  ['http', 'ops'],
  ['cli'],
  ['runtime', 'main', 'server'],
];

// Same-layer edges that are forbidden, with the files they may still reach (glpi and chatwoot are
// peers; chatwoot may read glpi's types, nothing else, and glpi never chatwoot).
const PEER_RULES = [
  { from: 'glpi', to: 'chatwoot', allowed: [] },
  { from: 'chatwoot', to: 'glpi', allowed: ['glpi/types.ts'] },
];

// Files whose exports are the program's public surface: used by definition.
const ENTRY_FILES = ['src/server.ts', 'src/cli/main.ts'];
const USER_DIRS = ['src', 'test', 'bench', 'scripts'];

function listFiles(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) listFiles(full, out);
    else if (/\.(m|c)?tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

function compilerOptions(root) {
  const configPath = path.join(root, 'tsconfig.json');
  const base = { target: ts.ScriptTarget.ES2023, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, skipLibCheck: true, noEmit: true };
  if (!existsSync(configPath)) return base;
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  if (read.error) return base;
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root);
  return { ...parsed.options, noEmit: true, skipLibCheck: true };
}

/** Folder node of a src-relative path: `sync/tickets.ts` -> `sync`, `runtime.ts` -> `runtime`. */
function nodeOf(rel) {
  const first = rel.split('/')[0];
  return rel.includes('/') ? first : first.replace(/\.(m|c)?tsx?$/, '');
}

function layerOf(node) {
  return LAYERS.findIndex((names) => names.includes(node));
}

/** Elementary cycles found by DFS, one per back edge, as paths a -> b -> a; deduplicated by rotation. */
function findCycles(graph) {
  const cycles = new Map();
  const state = new Map(); // 1 on the stack, 2 done
  const stack = [];
  const visit = (n) => {
    state.set(n, 1);
    stack.push(n);
    for (const m of [...(graph.get(n) ?? [])].sort()) {
      if (state.get(m) === 1) {
        const cycle = stack.slice(stack.indexOf(m));
        const start = cycle.indexOf([...cycle].sort()[0]);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(rotated.join(' -> '), [...rotated, rotated[0]].join(' -> '));
      } else if (!state.has(m)) {
        visit(m);
      }
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return [...cycles.values()];
}

export function checkArchitecture(root) {
  root = path.resolve(root);
  const srcDir = path.join(root, 'src');
  const rel = (f) => path.relative(root, f).split(path.sep).join('/');
  const srcRel = (f) => path.relative(srcDir, f).split(path.sep).join('/');
  const isSrc = (f) => !path.relative(srcDir, f).startsWith('..') && !f.includes(`${path.sep}node_modules${path.sep}`);

  const files = USER_DIRS.flatMap((d) => listFiles(path.join(root, d)));
  const program = ts.createProgram({ rootNames: files, options: compilerOptions(root) });
  const checker = program.getTypeChecker();
  const srcFiles = program.getSourceFiles().filter((sf) => isSrc(sf.fileName) && files.includes(path.resolve(sf.fileName)));
  const problems = { fileCycles: [], folderCycles: [], layering: [], longFiles: [], unusedExports: [], ownFileOnly: [] };

  // ---------------------------------------------------------------- imports: files and folders
  const fileGraph = new Map();
  const folderGraph = new Map();
  const where = (sf, node) => `${rel(sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const moduleFileOf = (specifier) => {
    const sym = checker.getSymbolAtLocation(specifier);
    const decl = sym?.valueDeclaration ?? sym?.declarations?.[0];
    return decl && ts.isSourceFile(decl) ? path.resolve(decl.fileName) : undefined;
  };
  for (const sf of srcFiles) {
    const from = path.resolve(sf.fileName);
    const fromNode = nodeOf(srcRel(from));
    fileGraph.set(srcRel(from), fileGraph.get(srcRel(from)) ?? new Set());
    const specifiers = [];
    const collect = (node) => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) specifiers.push(node.moduleSpecifier);
      else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) specifiers.push(node.arguments[0]);
      else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) specifiers.push(node.argument.literal);
      ts.forEachChild(node, collect);
    };
    collect(sf);
    for (const spec of specifiers) {
      const to = moduleFileOf(spec);
      if (!to || !isSrc(to) || to === from) continue;
      fileGraph.get(srcRel(from)).add(srcRel(to));
      const toNode = nodeOf(srcRel(to));
      if (toNode === fromNode) continue;
      if (!folderGraph.has(fromNode)) folderGraph.set(fromNode, new Set());
      folderGraph.get(fromNode).add(toNode);
      const [lf, lt] = [layerOf(fromNode), layerOf(toNode)];
      const peer = PEER_RULES.find((r) => r.from === fromNode && r.to === toNode);
      let why;
      if (lf < 0) why = `folder '${fromNode}' is not in the layer table`;
      else if (lt < 0) why = `folder '${toNode}' is not in the layer table`;
      else if (lt > lf) why = `${fromNode} (layer ${lf}) imports higher ${toNode} (layer ${lt})`;
      else if (peer && !peer.allowed.includes(srcRel(to))) why = `${fromNode} may not import ${toNode}${peer.allowed.length ? ` except ${peer.allowed.join(', ')}` : ''}`;
      if (why) problems.layering.push(`${where(sf, spec)} imports src/${srcRel(to)}: ${why}`);
    }
  }
  problems.fileCycles = findCycles(fileGraph);
  problems.folderCycles = findCycles(folderGraph);

  // ---------------------------------------------------------------- long files
  for (const sf of srcFiles) {
    const lines = sf.text.split('\n').length - (sf.text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_LINES) problems.longFiles.push(`${rel(sf.fileName)}: ${lines} lines (max ${MAX_LINES})`);
  }

  // ---------------------------------------------------------------- unused exports
  const canonical = (sym) => checker.getExportSymbolOfSymbol(sym);
  const exportsByKey = new Map(); // export symbol -> { file, name, line, usedOutside, usedInside }
  const names = new Set();
  for (const sf of srcFiles) {
    if (ENTRY_FILES.includes(rel(sf.fileName))) continue;
    const moduleSymbol = checker.getSymbolAtLocation(sf);
    if (!moduleSymbol) continue;
    for (const sym of checker.getExportsOfModule(moduleSymbol)) {
      const decl = sym.declarations?.find((d) => d.getSourceFile() === sf);
      if (!decl) continue; // reached through `export * from`: owned by the file that declares it
      exportsByKey.set(canonical(sym), { file: rel(sf.fileName), name: sym.name, line: sf.getLineAndCharacterOfPosition(decl.getStart(sf)).line + 1, usedOutside: false, usedInside: false });
      names.add(sym.name);
    }
  }
  // Every symbol a use reaches, following the alias chain (import -> re-export -> declaration).
  const chain = (sym) => {
    const out = [];
    for (let s = sym, guard = 0; s && guard < 20; guard++) {
      out.push(canonical(s));
      if (!(s.flags & ts.SymbolFlags.Alias)) break;
      s = checker.getImmediateAliasedSymbol(s);
    }
    return out;
  };
  const isDeclarationName = (id) => {
    const p = id.parent;
    return p && p.name === id && (ts.isFunctionDeclaration(p) || ts.isClassDeclaration(p) || ts.isInterfaceDeclaration(p) || ts.isTypeAliasDeclaration(p) || ts.isEnumDeclaration(p) || ts.isVariableDeclaration(p) || ts.isModuleDeclaration(p));
  };
  for (const sf of program.getSourceFiles()) {
    if (!files.includes(path.resolve(sf.fileName))) continue;
    const file = rel(sf.fileName);
    const visit = (node) => {
      if (ts.isIdentifier(node) && names.has(node.text) && !isDeclarationName(node)) {
        let sym = checker.getSymbolAtLocation(node);
        // `const { name } = await import('...')`: the property the binding reads.
        if (ts.isBindingElement(node.parent) && ts.isObjectBindingPattern(node.parent.parent)) {
          sym = checker.getTypeAtLocation(node.parent.parent).getProperty(node.text) ?? sym;
        }
        // An export specifier's own name (`export { x }`) is the export itself, not a use of it.
        const ownExport = ts.isExportSpecifier(node.parent) && !node.parent.parent.parent.moduleSpecifier;
        for (const s of sym ? chain(sym) : []) {
          const entry = exportsByKey.get(s);
          if (!entry) continue;
          if (entry.file !== file) entry.usedOutside = true;
          else if (!ownExport && !ts.isExportSpecifier(node.parent)) entry.usedInside = true;
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  for (const e of [...exportsByKey.values()].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line)) {
    if (e.usedOutside) continue;
    if (e.usedInside) problems.ownFileOnly.push(`${e.file}:${e.line} ${e.name} (only used inside its own file: drop the export)`);
    else problems.unusedExports.push(`${e.file}:${e.line} ${e.name}`);
  }
  return { problems, fileCount: srcFiles.length };
}

const SECTIONS = [
  ['fileCycles', 'import cycles between files'],
  ['folderCycles', 'import cycles between folders of src/'],
  ['layering', 'imports against the layer order (util < errors < config < redis < metrics/logger < glpi, chatwoot < sync < queue < http, ops < cli < runtime/main/server)'],
  ['longFiles', `files above ${MAX_LINES} lines`],
  ['unusedExports', 'exports no other file imports'],
  ['ownFileOnly', 'exports used only inside their own file'],
];

export function formatReport({ problems, fileCount }) {
  const total = SECTIONS.reduce((n, [key]) => n + problems[key].length, 0);
  if (total === 0) return { ok: true, text: `check-architecture: ${fileCount} files of src/: no cycles, layering respected, no file above ${MAX_LINES} lines, no unused export` };
  const lines = [];
  for (const [key, title] of SECTIONS) {
    if (problems[key].length === 0) continue;
    lines.push(`${title} (${problems[key].length}):`);
    for (const p of problems[key]) lines.push(`  ${p}`);
  }
  lines.push(`check-architecture: ${total} problem(s) in ${fileCount} files of src/`);
  return { ok: false, text: lines.join('\n') };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  if (!existsSync(path.join(root, 'src'))) {
    console.error(`check-architecture: no src/ under ${root}`);
    process.exit(2);
  }
  const report = formatReport(checkArchitecture(root));
  if (report.ok) console.log(report.text);
  else console.error(report.text);
  process.exit(report.ok ? 0 : 1);
}
