// Finds the Temporal CLI: TEMPORAL_CLI, then PATH, then the project-local .switchyard/bin/temporal
// that `npm run provision` builds. Shared by the provisioning script and the embedded server.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: two levels above this file in src/ and in dist/. */
export const PROJECT_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const LOCAL_CLI = join(PROJECT_ROOT, '.switchyard', 'bin', 'temporal');

export function findTemporalCli(env: NodeJS.ProcessEnv): string | undefined {
  if (env.TEMPORAL_CLI) return isExecutable(env.TEMPORAL_CLI) ? resolve(env.TEMPORAL_CLI) : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'temporal');
    if (isExecutable(candidate)) return candidate;
  }
  return isExecutable(LOCAL_CLI) ? LOCAL_CLI : undefined;
}

export const INSTALL_HINT =
  'No Temporal CLI found (looked at $TEMPORAL_CLI, PATH, and .switchyard/bin/temporal). Run `npm run provision` ' +
  '(needs Go 1.22+: it runs `go install github.com/temporalio/cli/cmd/temporal@v1.5.1`), or install the Temporal CLI ' +
  'and put it on PATH or in TEMPORAL_CLI, or point temporal.address at an existing cluster.';

function isExecutable(path: string): boolean {
  try {
    if (!existsSync(path)) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
