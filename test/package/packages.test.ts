import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { packageFor, TARGETS, type Target } from '../../scripts/package';
import { REPO, tempDir } from '../fixtures';

/**
 * npm run package:all: one .vsix per platform, each declaring its target and carrying that
 * platform's ONNX Runtime only, each file once. What a binding loads is checked here independently
 * of scripts/nativeDeps.ts: by the library names written in the binding's bytes.
 */
const BIN = 'extension/node_modules/onnxruntime-node/bin/napi-v6/';
const out = tempDir('packages');
const built = new Map<Target, { entries: Map<string, Buffer | null>; bytes: number }>();

before(() => {
  for (const target of Object.keys(TARGETS) as Target[]) {
    const file = path.join(out, `massive-activations-${target}.vsix`);
    const bytes = packageFor(target, file);
    built.set(target, { entries: zipEntries(readFileSync(file)), bytes });
  }
  console.log([...built].map(([t, b]) => `${t}: ${(b.bytes / 2 ** 20).toFixed(1)} MB`).join(', '));
});

describe('a package per platform', () => {
  for (const target of Object.keys(TARGETS) as Target[]) {
    test(`${target}: its target declared, its own native files only, each once`, () => {
      const { entries } = built.get(target)!;
      const manifest = entries.get('extension.vsixmanifest')!.toString('utf8');
      assert.match(manifest, new RegExp(`TargetPlatform="${target}"`));
      const native = [...entries.keys()].filter((e) => e.startsWith(BIN));
      const folders = new Set(native.map((e) => e.slice(BIN.length).split('/').slice(0, 2).join('/')));
      assert.deepEqual([...folders], [TARGETS[target]], 'one platform\'s folder');
      // Independently: the folder's libraries whose names the binding's bytes hold are the ones it loads.
      const dir = path.join(REPO, 'node_modules/onnxruntime-node/bin/napi-v6', TARGETS[target]);
      const binding = readFileSync(path.join(dir, 'onnxruntime_binding.node')).toString('latin1');
      const loaded = readdirSync(dir).filter((f) => f !== 'onnxruntime_binding.node' && binding.includes(`${f}\0`));
      assert.equal(loaded.length, 1, `the binding names one ONNX Runtime library (${loaded.join(', ')})`);
      assert.deepEqual(native.map((e) => path.basename(e)).sort(), ['onnxruntime_binding.node', ...loaded].sort());
      // The JavaScript that loads it, and our bundles, are in every package.
      for (const f of ['extension/dist/extension.js', 'extension/dist/worker.js', 'extension/node_modules/onnxruntime-node/dist/binding.js', 'extension/LICENSE.txt', 'extension/changelog.md']) {
        assert.ok(entries.has(f), `${target} holds ${f}`);
      }
    });
  }

  test('macOS: the library the binding loads, not its second copy under the versioned name', () => {
    const names = [...built.get('darwin-arm64')!.entries.keys()].filter((e) => e.startsWith(BIN)).map((e) => path.basename(e));
    assert.ok(names.includes('libonnxruntime.1.dylib'));
    assert.ok(!names.some((n) => /libonnxruntime\.\d+\.\d+\.\d+\.dylib/.test(n)));
  });

  test('the manifest asks to run where the models are (extensionKind workspace)', () => {
    const pkg = JSON.parse(built.get('linux-x64')!.entries.get('extension/package.json')!.toString('utf8'));
    assert.deepEqual(pkg.extensionKind, ['workspace']);
  });
});

/** A zip's entries by name; the small ones (manifests) inflated, the rest null. */
function zipEntries(zip: Buffer): Map<string, Buffer | null> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'a zip file');
  const count = zip.readUInt16LE(eocd + 10);
  let o = zip.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer | null>();
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(o + 10);
    const compressed = zip.readUInt32LE(o + 20);
    const size = zip.readUInt32LE(o + 24);
    const nameLength = zip.readUInt16LE(o + 28);
    const extra = zip.readUInt16LE(o + 30);
    const comment = zip.readUInt16LE(o + 32);
    const local = zip.readUInt32LE(o + 42);
    const name = zip.toString('utf8', o + 46, o + 46 + nameLength);
    let data: Buffer | null = null;
    if (name.endsWith('.vsixmanifest') || name.endsWith('package.json')) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const raw = zip.subarray(start, start + compressed);
      data = method === 8 ? inflateRawSync(raw) : raw;
      assert.equal(data.length, size);
    }
    out.set(name, data);
    o += 46 + nameLength + extra + comment;
  }
  return out;
}
