// A throwaway PostgreSQL server for tests: initdb into a temporary folder, started on a free
// loopback port, removed by stop(). PostgreSQL refuses to run as root, so as root (CI is) the
// folder is given to the unprivileged user `nobody` and the server runs as that user. The
// binaries come from the machine's PostgreSQL (Debian's postgresql package; .ci/run installs it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, waitFor } from './ports.js';

const NOBODY = 65_534;

export class TestPostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-'));
  private child: ChildProcess | undefined;
  private output = '';
  port = 0;

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<this> {
    const bin = postgresBin();
    const asRoot = userInfo().uid === 0;
    const data = join(this.dir, 'data');
    const as = asRoot ? { uid: NOBODY, gid: NOBODY } : {};
    if (asRoot) chownSync(this.dir, NOBODY, NOBODY);
    const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { ...as, encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`initdb failed (${init.status}): ${init.stderr || init.error?.message}`);
    this.port = await freePort();
    // fsync off: a test database need not survive a power cut, and fsync is slow on a shared disk.
    this.child = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], { ...as, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    this.child.stderr!.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    await waitFor(
      'PostgreSQL accepting connections',
      async () => {
        if (this.child?.exitCode !== null) throw new Error(`postgres exited: ${this.output}`);
        const client = new pg.Client({ connectionString: this.url });
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } catch {
          return undefined;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      30_000,
    );
    return this;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT'); // fast shutdown
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The folder holding initdb and postgres: PATH, else Debian's /usr/lib/postgresql/<version>/bin. */
function postgresBin(): string {
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim() !== '') return join(which.stdout.trim(), '..');
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  throw new Error('PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): apt-get install postgresql');
}
