// What the provision scripts share: where project-local builds go, and how a program is found.
import { accessSync, constants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Project-local builds, reused by later runs (gitignored). */
export const binDir = join(root, '.switchyard', 'bin');
export const quiet = process.argv.includes('--quiet');

export function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Says where `name` was found (unless --quiet) and ends the script successfully. */
export function found(name, path, how) {
  if (!quiet) console.log(`${name}: ${path} (${how})`);
  process.exit(0);
}

/** GOFLAGS for building from a module without its VCS metadata. */
export function goEnv() {
  return { ...process.env, GOFLAGS: [process.env.GOFLAGS, '-buildvcs=false'].filter(Boolean).join(' ') };
}
