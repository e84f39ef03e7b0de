import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import semver from 'semver';
import { REPO } from '../fixtures';

/**
 * The README's set-up installs quietly on the Node version it names: each cause of npm's warnings
 * checked from the files npm reads (what `npm ci` printed before: EBADENGINE, "Unknown project
 * config", "install scripts not covered by allowScripts").
 */
const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { engines: { node: string }; allowScripts?: Record<string, boolean> };
const lock = JSON.parse(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: unknown; hasInstallScript?: boolean }> };

test('the Node version the README names is the one package.json requires, and every locked package accepts it (no EBADENGINE)', () => {
  const named = /On a fresh machine with Node\.js (\d+) \((\d+\.\d+) or later\)/.exec(readFileSync(path.join(REPO, 'README.md'), 'utf8'));
  assert.ok(named, 'the README names a Node version');
  const least = semver.minVersion(pkg.engines.node)!.version;
  assert.equal(least, `${named[2]}.0`, 'README and engines.node agree');
  assert.equal(semver.major(least), Number(named[1]));
  const refused = Object.entries(lock.packages)
    .map(([name, p]) => ({ name, range: (p.engines as { node?: string } | undefined)?.node }))
    .filter((p) => typeof p.range === 'string' && !semver.satisfies(least, p.range));
  assert.deepEqual(refused, [], `packages that refuse Node ${least}`);
});

test('.npmrc holds only settings npm knows (no "Unknown project config"), and skips the dependencies\' install scripts', () => {
  const known = JSON.parse(execFileSync('npm', ['config', 'ls', '-l', '--json'], { cwd: REPO, encoding: 'utf8' })) as Record<string, unknown>;
  const keys = readFileSync(path.join(REPO, '.npmrc'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !/^[#;]/.test(l)).map((l) => l.split('=')[0].trim());
  assert.ok(keys.length, '.npmrc says something');
  for (const k of keys) assert.ok(k in known, `npm knows "${k}"`);
  assert.equal(known['ignore-scripts'], true, 'onnxruntime-node\'s GPU download (a host this network cannot reach) never starts');
});

test('every locked package with an install script has its entry in allowScripts (npm 12 enforces it; npm 11 warns)', () => {
  const withScripts = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript).map(([k]) => k.replace(/^.*node_modules\//, ''));
  const unlisted = withScripts.filter((name) => !(name in (pkg.allowScripts ?? {})));
  assert.deepEqual(unlisted, []);
});
