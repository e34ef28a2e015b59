/**
 * The package as a user gets it: `npm pack`, then the README's install line
 * (`ONNXRUNTIME_NODE_INSTALL=skip npm install ./ast-audio-<version>.tgz`) in an empty project with `--offline`,
 * then the real `ast-audio` binary through `npx`, from that project.
 *
 * Offline: npm resolves a new dependency's version ranges from the registry's full metadata, which `npm ci`
 * does not put in the npm cache (it reads versions from our lockfile). So the empty project gets a
 * package-lock.json holding our lockfile's production entries (the versions this repository is tested
 * with); npm then needs only what `npm ci` cached, and the test needs no network.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/fixtures.js';

interface LockEntry {
  dev?: boolean;
  link?: boolean;
}

/**
 * The environment of a user's shell: without the variables `npm test` sets for its own package
 * (`npm_config_local_prefix` would point the child npm at this repository instead of the new project).
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith('npm_') || /^npm_config_(cache|registry|userconfig)$/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = 240_000): SpawnSyncReturns<string> {
  return spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout });
}

function diskMB(path: string): number {
  let bytes = 0;
  const walk = (p: string): void => {
    const s = lstatSync(p);
    bytes += s.size;
    if (s.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(path);
  return bytes / 2 ** 20;
}

describe('the packed package, installed offline into an empty project', { timeout: 600_000 }, () => {
  let tmp: string;
  let project: string;
  let tarball: string;

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'ast-audio-pack-'));
    project = join(tmp, 'project');
    mkdirSync(project);
    // `npm pack` runs `prepare` (the build), so the tarball holds a dist/ built from this checkout.
    const pack = npm(['pack', '--json', '--pack-destination', project], REPO_ROOT, userEnv());
    assert.equal(pack.status, 0, `npm pack failed:\n${pack.stderr}`);
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string }[];
    tarball = info!.filename;
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const packages: Record<string, LockEntry> = { '': { name: 'pack-test' } as LockEntry };
    for (const [path, entry] of Object.entries(lock.packages)) if (path && !entry.dev && !entry.link) packages[path] = entry;
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'pack-test', private: true }, null, 2)}\n`);
    writeFileSync(join(project, 'package-lock.json'), `${JSON.stringify({ name: 'pack-test', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
  });

  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('installs with the README line, offline; onnxruntime-web (browser only) is not installed', () => {
    assert.match(tarball, /^ast-audio-\d+\.\d+\.\d+\.tgz$/);
    const r = npm(['install', '--offline', '--no-audit', '--no-fund', `./${tarball}`], project, userEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' }));
    assert.equal(r.status, 0, `npm install ./${tarball} --offline failed:\n${r.stderr}`);
    const installed = JSON.parse(readFileSync(join(project, 'node_modules/ast-audio/package.json'), 'utf8')) as { version: string };
    assert.equal(`ast-audio-${installed.version}.tgz`, tarball);
    assert.ok(existsSync(join(project, 'node_modules/onnxruntime-node')));
    assert.ok(!existsSync(join(project, 'node_modules/onnxruntime-web')), 'onnxruntime-web was installed for a Node user');
    console.log(`  node_modules of the tarball install: ${diskMB(join(project, 'node_modules')).toFixed(0)} MiB (file sizes)`);
  });

  it('`npx ast-audio classify` there names each example clip\'s word, with no npm warning', () => {
    const examples = join(project, 'node_modules/ast-audio/models/speech-commands/examples');
    const r = spawnSync('npx', ['ast-audio', 'classify', examples, '--top-k', '1', '--csv'], {
      cwd: project,
      env: userEnv(),
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /npm (warn|WARN|error|ERR)/);
    assert.match(r.stderr, /# model .*speech-commands: 12 labels/);
    const rows = r.stdout.trim().split('\n').slice(1).map((l) => l.split(','));
    const clips = readdirSync(examples).filter((f) => f.endsWith('.wav'));
    assert.equal(rows.length, clips.length, r.stdout);
    // The expectation is the file name (the word the clip says), not an output of this code.
    for (const [file, rank, label] of rows) {
      assert.equal(rank, '1');
      assert.equal(label, basename(file!, '.wav'), `${file}: top label ${label}`);
    }
  });
});
