/**
 * The house's rules, read from the code: which part of the tree may import which, the import
 * graph's cycles, and what the extension host's bundle reaches. architecture.test.ts applies them
 * to the tree and shows, on planted violations, that each check fails when it should.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import ts from 'typescript';

export const ROOT = path.resolve(__dirname, '..', '..');

/** The parts of the tree, lowest first; a file belongs to the first whose test matches its path. */
export type Part =
  | 'engine/base' | 'engine/measure' | 'engine/model' | 'engine/run' | 'engine/root'
  | 'experiment/run' | 'experiment/runners' | 'experiment/front'
  | 'shared' | 'hub' | 'report' | 'worker' | 'cli' | 'host' | 'webview';

export function partOf(rel: string): Part | undefined {
  const p = rel.split(path.sep).join('/');
  for (const layer of ['base', 'measure', 'model', 'run'] as const) if (p.startsWith(`src/engine/${layer}/`)) return `engine/${layer}`;
  if (p.startsWith('src/engine/')) return 'engine/root';
  if (/^src\/experiments\/[^/]+\/run\.ts$/.test(p)) return 'experiment/run';
  if (p === 'src/experiments/runners.ts') return 'experiment/runners';
  if (p.startsWith('src/experiments/')) return 'experiment/front';
  if (p.startsWith('src/shared/')) return 'shared';
  if (p.startsWith('src/hub/')) return 'hub';
  if (p.startsWith('src/report/')) return 'report';
  if (p.startsWith('src/worker/')) return 'worker';
  if (p.startsWith('src/cli/')) return 'cli';
  if (p.startsWith('src/host/') || p === 'src/extension.ts') return 'host';
  if (p.startsWith('webview/')) return 'webview';
  return undefined;
}

const ENGINE: Part[] = ['engine/base', 'engine/measure', 'engine/model', 'engine/run'];

/**
 * What each part may import by value. Type-only imports are free across parts, except inside the
 * engine, whose layers point one way for types too (a type from a higher layer ties the layers as
 * surely as a value). Packages are checked apart (PACKAGES).
 */
export const MAY_IMPORT: Record<Part, Part[]> = {
  'engine/base': ['engine/base'],
  'engine/measure': ['engine/base', 'engine/measure'],
  'engine/model': ['engine/base', 'engine/measure', 'engine/model'],
  'engine/run': ENGINE,
  'engine/root': [],
  'experiment/run': [...ENGINE, 'experiment/run'],
  'experiment/runners': ['experiment/run'],
  // The front halves are what the extension host loads: nothing that runs a model.
  // shared: the wording the views and the webview give alike (reasons.ts).
  'experiment/front': ['engine/base', 'engine/measure', 'engine/model', 'experiment/front', 'shared'],
  'shared': ['engine/base'],
  // Models by name from the Hugging Face Hub: it reads a fetched graph's weight-file names, never runs one.
  'hub': ['engine/base', 'engine/model', 'hub'],
  // A report from results (Markdown, SVG figures): no engine run, no front end.
  'report': ['engine/base', 'engine/measure', 'engine/model', 'experiment/front', 'shared', 'report'],
  'worker': [...ENGINE, 'experiment/runners', 'shared', 'hub', 'worker'],
  'cli': ['engine/base', 'engine/measure', 'engine/model', 'experiment/front', 'shared', 'hub', 'report', 'worker', 'cli'],
  'host': ['engine/base', 'engine/measure', 'engine/model', 'experiment/front', 'shared', 'hub', 'report', 'worker', 'host'],
  'webview': ['engine/measure', 'shared', 'webview'],
};

/** Which parts may import a package at all (types included); packages not named are free. */
export const PACKAGES: Record<string, Part[]> = {
  'onnxruntime-node': ['engine/run'],
  'vscode': ['host'],
  'onnx-buf': ['engine/model', 'engine/run'],
  '@bufbuild/protobuf': ['engine/model', 'engine/run'],
  '@huggingface/tokenizers': ['engine/model'],
  'pngjs': ['engine/model'],
  'jpeg-js': ['engine/model'],
};

export interface Edge { from: string; to: string; typeOnly: boolean }
export interface PackageUse { from: string; name: string; typeOnly: boolean }

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.ts$/.test(e) && !e.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

export function sourceFiles(): string[] {
  return ['src', 'webview'].flatMap((d) => walk(path.join(ROOT, d))).map((f) => path.relative(ROOT, f)).sort();
}

function resolve(fromRel: string, spec: string): string | undefined {
  const base = path.resolve(ROOT, path.dirname(fromRel), spec);
  for (const c of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    try {
      if (statSync(c).isFile()) return path.relative(ROOT, c);
    } catch {
      // not this candidate
    }
  }
  return undefined;
}

/** Every import, export-from and import() of the files, relative ones resolved to files. */
export function readImports(files: string[]): { edges: Edge[]; packages: PackageUse[] } {
  const edges: Edge[] = [];
  const packages: PackageUse[] = [];
  const builtins = new Set(builtinModules);
  for (const rel of files) {
    const sf = ts.createSourceFile(rel, readFileSync(path.join(ROOT, rel), 'utf8'), ts.ScriptTarget.Latest, false);
    const add = (spec: string, typeOnly: boolean) => {
      if (spec.startsWith('.')) {
        const to = resolve(rel, spec);
        if (!to) throw new Error(`${rel}: cannot resolve "${spec}"`);
        edges.push({ from: rel, to, typeOnly });
      } else if (!spec.startsWith('node:') && !builtins.has(spec)) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        packages.push({ from: rel, name, typeOnly });
      }
    };
    const visit = (n: ts.Node) => {
      if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
        const c = n.importClause;
        const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
        // `import { type A, type B }` loads the module no more than `import type`.
        const typeOnly = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
        add(n.moduleSpecifier.text, typeOnly);
      } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
        add(n.moduleSpecifier.text, n.isTypeOnly);
      } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) {
        add(n.arguments[0].text, false);
      } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
        add(n.argument.literal.text, true);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return { edges, packages };
}

/** Imports that break MAY_IMPORT or PACKAGES, one sentence each. */
export function directionViolations(edges: Edge[], packages: PackageUse[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const a = partOf(e.from);
    const b = partOf(e.to);
    if (!a || !b) {
      out.push(`${e.from} → ${e.to}: a file outside every part of the tree`);
      continue;
    }
    const inEngine = a.startsWith('engine/');
    if (e.typeOnly && !inEngine) continue;
    if (!MAY_IMPORT[a].includes(b)) out.push(`${e.from} (${a}) imports ${e.typeOnly ? 'types from ' : ''}${e.to} (${b})`);
  }
  for (const u of packages) {
    const allowed = PACKAGES[u.name];
    const part = partOf(u.from);
    if (allowed && (!part || !allowed.includes(part))) out.push(`${u.from} (${part}) imports ${u.name}, which only ${allowed.join(', ')} may`);
  }
  return out;
}

/** The import graph's cycles (strongly connected components of more than one file, or a file importing itself). */
export function cycles(edges: Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const strong = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (next.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of new Set(edges.flatMap((e) => [e.from, e.to]))) if (!index.has(v)) strong(v);
  return found;
}

/** Folders of src/ and webview/ with this name. */
export function foldersNamed(name: string): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    for (const e of readdirSync(path.join(ROOT, dir))) {
      const rel = path.join(dir, e);
      if (!statSync(path.join(ROOT, rel)).isDirectory()) continue;
      if (e === name) out.push(rel);
      visit(rel);
    }
  };
  visit('src');
  visit('webview');
  return out;
}

export function filesDirectlyIn(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).filter((e) => statSync(path.join(ROOT, dir, e)).isFile());
}
