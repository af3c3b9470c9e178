// An older Switchyard, for upgrade tests: the sources of one commit, extracted with `git archive`
// into .switchyard/ (gitignored) inside this checkout, so Node resolves its packages from this
// checkout's node_modules. It runs from its TypeScript sources through tsx; its workflows are
// bundled once, where its worker looks for a prebuilt bundle (src/workflow-bundle.js), so it
// starts as fast as a built one. Extracted and bundled once per commit, then reused.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface OldBuild {
  commit: string;
  dir: string;
  /** Node arguments that run this build's `switchyard` command (for Stack's `entry`). */
  entry: string[];
}

/** Materialises `commit` (its src/, bin/ and package.json) and returns how to run it. */
export async function oldBuild(commit: string): Promise<OldBuild> {
  const dir = join(ROOT, '.switchyard', `old-build-${commit}`);
  const bundle = join(dir, 'src', 'workflow-bundle.js');
  // tsx by its URL: the processes run in a temporary folder, where `--import tsx` would not resolve.
  const entry = ['--import', import.meta.resolve('tsx'), join(dir, 'src', 'cli', 'main.ts')];
  if (existsSync(bundle)) return { commit, dir, entry };

  try {
    execFileSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: ROOT, stdio: 'ignore' });
  } catch {
    throw new Error(`the upgrade test needs commit ${commit} (the old build) in this clone's history; fetch it (git fetch --unshallow) and run again`);
  }
  // Extracted beside the final folder and renamed into place: a run killed halfway leaves no half tree behind the cache check.
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const archive = execFileSync('git', ['archive', '--format=tar', commit, 'src', 'bin', 'package.json'], { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', partial], { input: archive });
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(partial, 'src', 'workflows', 'index.ts'),
    logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} },
  });
  writeFileSync(join(partial, 'src', 'workflow-bundle.js'), code);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return { commit, dir, entry };
}
