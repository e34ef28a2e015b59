/**
 * The WebGPU adapter the WebGPU tests use. Without a GPU, a software one: `bash bench/gpu/software-adapter.sh`
 * fetches Mesa 25 lavapipe (Debian bookworm-backports) into .lavapipe/, used here when VK_ICD_FILENAMES /
 * VK_DRIVER_FILES name no driver. Where no adapter exists the tests skip and say why (what was tried is in
 * README.md's "GPU" section).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder } from '../../src/graph/builder.js';
import { OrtSession } from '../../src/runtime/session.js';
import { REPO_ROOT } from './fixtures.js';

const LAVAPIPE = join(REPO_ROOT, '.lavapipe', 'lvp_icd.json');

/**
 * The Vulkan loader's environment for a WebGPU run: the caller's own driver settings, else lavapipe's ICD when
 * .lavapipe/ holds it. The loader reads these when Dawn creates its instance (the first WebGPU session), so a
 * process sets them before that, and a child process gets them in its env.
 */
export function vulkanEnv(): Record<string, string> {
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES || !existsSync(LAVAPIPE)) return {};
  return { VK_ICD_FILENAMES: LAVAPIPE };
}

/** Builds a one-node session on the WebGPU EP in this process; undefined when it works, else why it does not. */
export async function webgpuUnavailable(): Promise<string | undefined> {
  Object.assign(process.env, vulkanEnv());
  const g = new GraphBuilder('probe');
  const x = g.input('x', 'float32', [2]);
  g.output(g.add(x, g.constF32([1], [])), 'y');
  try {
    const s = await OrtSession.create(g.encode(), { executionProviders: ['webgpu'] });
    await s.release();
    return undefined;
  } catch (e) {
    const msg = (e as Error).message;
    return (msg.includes('was false. ') ? msg.slice(msg.indexOf('was false. ') + 11) : msg.split('\n')[0]!).trim();
  }
}

/** The skip reason of a WebGPU test (false when an adapter exists). */
export async function webgpuSkip(): Promise<string | false> {
  const why = await webgpuUnavailable();
  return why
    ? `no WebGPU adapter (${why}); without a GPU run "bash bench/gpu/software-adapter.sh" (Mesa 25 lavapipe; ` +
        `Debian bookworm's Mesa 22 lavapipe is refused by Dawn)`
    : false;
}
