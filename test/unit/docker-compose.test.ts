// Keeps the Docker deployment (Dockerfile, docker-compose.yml, deploy/) in step with the code:
// no Docker engine is needed; the files are parsed and checked against the real config validation,
// the search attributes the code uses and the dev server's dynamic config.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { SEARCH_ATTRIBUTES } from '../../src/shared/messages.js';
import { devServerArgs } from '../../src/temporal/dev-server.js';
import { telemetrySettings } from '../../src/observability/telemetry.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

const CONFIG_FILE = 'deploy/switchyard.compose.yaml';
const CONFIG_MOUNT = '/etc/switchyard/switchyard.yaml';
const DYNAMIC_CONFIG_FILE = 'deploy/temporal-dynamic-config.yaml';

type Json = Record<string, unknown>;

function object(value: unknown, what: string): Json {
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `${what} must be a mapping`);
  return value as Json;
}

function strings(value: unknown, what: string): string[] {
  assert.ok(Array.isArray(value) && value.every((v) => typeof v === 'string'), `${what} must be a list of strings`);
  return value as string[];
}

const composeSource = parseYaml(read('docker-compose.yml')) as unknown;

/**
 * Compose's variable interpolation over every string value: `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?error}`, `${VAR?error}` and `$$`. A required variable that is unset
 * throws, as `docker compose up` refuses to start.
 */
function interpolate(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (whole, name: string | undefined, colon: string, kind: string, rest: string) => {
      if (whole === '$$') return '$';
      const set = env[name!];
      const missing = set === undefined || (colon === ':' && set === '');
      if (kind === '?' && missing) throw new Error(`required variable ${name} is missing a value: ${rest}`);
      if (kind === '-' && missing) return rest;
      return set ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  return value;
}

const TEST_KEY = 'a-test-key-0123456789abcdef';
const compose = object(interpolate(composeSource, { SWITCHYARD_API_KEY: TEST_KEY }), 'docker-compose.yml');
const services = object(compose.services, 'services');
const service = (name: string): Json => object(services[name], `services.${name}`);

/** `environment` in either compose form (mapping or KEY=VALUE list), values as strings. */
function environment(name: string): Record<string, string> {
  const env = service(name).environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(strings(env, `services.${name}.environment`).map((line) => {
      const eq = line.indexOf('=');
      return eq < 0 ? [line, ''] : [line.slice(0, eq), line.slice(eq + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(object(env, `services.${name}.environment`)).map(([k, v]) => [k, String(v)]));
}

/** depends_on in either form, as name → condition. */
function dependsOn(name: string): Record<string, string> {
  const deps = service(name).depends_on;
  if (deps === undefined) return {};
  if (Array.isArray(deps)) return Object.fromEntries(strings(deps, `services.${name}.depends_on`).map((d) => [d, 'service_started']));
  return Object.fromEntries(
    Object.entries(object(deps, `services.${name}.depends_on`)).map(([dep, spec]) => [dep, String(object(spec, `depends_on.${dep}`).condition ?? 'service_started')]),
  );
}

/** Short-syntax bind mounts, as container path → host path. */
function binds(name: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const volume of strings(service(name).volumes ?? [], `services.${name}.volumes`)) {
    const [host, container] = volume.split(':');
    if (host !== undefined && container !== undefined && (host.startsWith('./') || host.startsWith('/'))) out.set(container, host);
  }
  return out;
}

/** Short-syntax port mappings, as host port → container port. */
function ports(name: string, of: Json = services): Map<number, number> {
  return new Map([...bindings(name, of)].map(([host, { container }]) => [host, container]));
}

/** Short-syntax port mappings, as host port → the host address it binds and the container port. */
function bindings(name: string, of: Json = services): Map<number, { address: string; container: number }> {
  const out = new Map<number, { address: string; container: number }>();
  const spec = object(of[name], `services.${name}`);
  for (const mapping of strings(spec.ports ?? [], `services.${name}.ports`)) {
    const match = /^(?:([\d.]+):)?(\d+):(\d+)(?:\/tcp)?$/.exec(mapping);
    assert.ok(match, `services.${name}.ports: "${mapping}" is not [ADDRESS:]HOST:CONTAINER`);
    // No address means every interface.
    out.set(Number(match[2]), { address: match[1] ?? '0.0.0.0', container: Number(match[3]) });
  }
  return out;
}

function image(name: string): string {
  return String(service(name).image);
}

function commandLine(name: string): string[] {
  const s = service(name);
  const part = (v: unknown, what: string) => (v === undefined ? [] : typeof v === 'string' ? [v] : strings(v, what));
  return [...part(s.entrypoint, `services.${name}.entrypoint`), ...part(s.command, `services.${name}.command`)];
}

/** The raw (uninterpolated) `environment` mapping of a service. */
function rawEnvironment(name: string): Record<string, string> {
  const spec = object(object(object(composeSource, 'docker-compose.yml').services, 'services')[name], name);
  return Object.fromEntries(Object.entries(object(spec.environment ?? {}, `${name}.environment`)).map(([k, v]) => [k, String(v)]));
}

const configSource = { source: CONFIG_FILE, raw: parseYaml(read(CONFIG_FILE)) as unknown };
/** The `${VAR}` names in the config's values (what parseConfig expands; comments do not count). */
function variablesIn(value: unknown): string[] {
  if (typeof value === 'string') return [...value.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
  if (Array.isArray(value)) return value.flatMap(variablesIn);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(variablesIn);
  return [];
}
const configVariables = [...new Set(variablesIn(configSource.raw))];
const apiKey = TEST_KEY;

describe('docker-compose.yml', () => {
  it('has the Temporal stack, the example downstream server, the worker and the gateway', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'everything', 'worker', 'gateway']) {
      assert.ok(name in services, `service "${name}" is missing`);
    }
    assert.match(String(service('postgresql').image), /^postgres:16(\b|$)/);
    assert.match(String(service('temporal').image), /^temporalio\/auto-setup:/);
    assert.match(String(service('temporal-admin-tools').image), /^temporalio\/admin-tools:/);
    assert.match(String(service('temporal-ui').image), /^temporalio\/ui:/);
  });

  it('builds gateway and worker from the Dockerfile and mounts the Switchyard config into both', () => {
    assert.ok(existsSync(`${root}Dockerfile`), 'Dockerfile is missing');
    assert.ok(existsSync(`${root}${CONFIG_FILE}`), `${CONFIG_FILE} is missing`);
    for (const name of ['gateway', 'worker']) {
      const build = service(name).build;
      const spec = typeof build === 'string' ? { context: build } : object(build, `services.${name}.build`);
      assert.equal(spec.context, '.', `${name} must build from the repository root`);
      assert.equal(spec.dockerfile ?? 'Dockerfile', 'Dockerfile', `${name} must use the Dockerfile`);
      assert.equal(binds(name).get(CONFIG_MOUNT), `./${CONFIG_FILE}`, `${name} must mount ${CONFIG_FILE} at ${CONFIG_MOUNT}`);
      const command = commandLine(name);
      assert.equal(command[0], name, `${name} must run \`switchyard ${name}\``);
      assert.ok(command.includes('--config'), `${name} must pass --config`);
      assert.equal(command[command.indexOf('--config') + 1], CONFIG_MOUNT, `${name} must pass --config ${CONFIG_MOUNT}`);
    }
  });

  it('depends only on services that exist, with conditions they can meet, and without cycles', () => {
    const conditions = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
    for (const name of Object.keys(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(name))) {
        assert.ok(dep in services, `${name} depends on unknown service "${dep}"`);
        assert.notEqual(dep, name, `${name} depends on itself`);
        assert.ok(conditions.has(condition), `${name} → ${dep}: unknown condition "${condition}"`);
        if (condition === 'service_healthy') assert.ok(service(dep).healthcheck, `${name} waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
      }
    }
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string, path: string[]) => {
      assert.ok(!visiting.has(name), `depends_on cycle: ${[...path, name].join(' → ')}`);
      if (done.has(name)) return;
      visiting.add(name);
      for (const dep of Object.keys(dependsOn(name))) visit(dep, [...path, name]);
      visiting.delete(name);
      done.add(name);
    };
    for (const name of Object.keys(services)) visit(name, []);
  });

  it('starts gateway and worker only after the search attributes are registered', () => {
    for (const name of ['gateway', 'worker']) {
      assert.equal(dependsOn(name)['temporal-admin-tools'], 'service_completed_successfully', `${name} must wait for temporal-admin-tools to finish`);
    }
    assert.equal(dependsOn('temporal-admin-tools').temporal, 'service_healthy');
    assert.equal(dependsOn('temporal').postgresql, 'service_healthy');
  });

  it('publishes the gateway on 3000 and the Temporal UI on 8233', () => {
    const published = new Set(Object.keys(services).flatMap((name) => [...ports(name).keys()]));
    assert.ok(published.has(3000), 'port 3000 is not published');
    assert.ok(published.has(8233), 'port 8233 is not published');
    assert.equal(ports('gateway').get(3000), 3000);
    assert.equal(ports('temporal-ui').get(8233), 8080);
    const all = Object.keys(services).flatMap((name) => [...ports(name).keys()]);
    assert.equal(new Set(all).size, all.length, 'two services publish the same host port');
  });

  it('registers exactly the search attributes the code uses, as Keyword', () => {
    const expected = SEARCH_ATTRIBUTES.map((key) => key.name);
    for (const key of SEARCH_ATTRIBUTES) assert.equal(key.type, 'KEYWORD', `${key.name} is not a Keyword in the code`);
    const registered = (environment('temporal-admin-tools').SEARCH_ATTRIBUTES ?? '').split(/\s+/).filter(Boolean);
    assert.equal(new Set(registered).size, registered.length, 'a search attribute is listed twice');
    assert.deepEqual([...registered].sort(), [...expected].sort());
    const script = commandLine('temporal-admin-tools').join('\n');
    assert.match(script, /for name in \$\{SEARCH_ATTRIBUTES\}/, 'the script must iterate over SEARCH_ATTRIBUTES');
    assert.match(script, /temporal operator search-attribute create\b[^\n]*--name "\$name"[^\n]*--type Keyword/);
  });

  it('uses the namespace of the Switchyard config everywhere', () => {
    const config = parseConfig(configSource, { SWITCHYARD_API_KEY: apiKey });
    assert.equal(environment('temporal-admin-tools').NAMESPACE, config.temporal.namespace);
    assert.equal(environment('temporal').DEFAULT_NAMESPACE ?? 'default', config.temporal.namespace);
  });

  it('runs Temporal on PostgreSQL with the dev server\'s dynamic config', () => {
    const env = environment('temporal');
    assert.equal(env.DB, 'postgres12');
    assert.ok(env.POSTGRES_SEEDS !== undefined && env.POSTGRES_SEEDS in services, 'POSTGRES_SEEDS must name the postgresql service');
    assert.equal(env.POSTGRES_USER, environment('postgresql').POSTGRES_USER);
    assert.equal(env.POSTGRES_PWD, environment('postgresql').POSTGRES_PASSWORD);
    assert.ok(env.DYNAMIC_CONFIG_FILE_PATH, 'DYNAMIC_CONFIG_FILE_PATH is not set');
    assert.equal(binds('temporal').get(env.DYNAMIC_CONFIG_FILE_PATH), `./${DYNAMIC_CONFIG_FILE}`, 'DYNAMIC_CONFIG_FILE_PATH must be the mounted file');

    const dynamic = object(parseYaml(read(DYNAMIC_CONFIG_FILE)), DYNAMIC_CONFIG_FILE);
    const valueOf = (key: string): unknown => {
      const entries = dynamic[key];
      assert.ok(Array.isArray(entries) && entries.length > 0, `${DYNAMIC_CONFIG_FILE}: ${key} is not set`);
      return object(entries[0], key).value;
    };
    assert.equal(valueOf('matching.useNewMatcher'), true);
    const args = devServerArgs({ dataDir: '.switchyard', namespace: 'default', port: 7233, uiPort: 8233 });
    const devValues = args.flatMap((arg, i) => (arg === '--dynamic-config-value' ? [args[i + 1]!] : []));
    assert.ok(devValues.length > 0, 'the dev server sets no dynamic config');
    for (const pair of devValues) {
      const eq = pair.indexOf('=');
      assert.deepEqual(valueOf(pair.slice(0, eq)), parseYaml(pair.slice(eq + 1)), `${pair} differs from ${DYNAMIC_CONFIG_FILE}`);
    }
  });
});

describe('deploy/switchyard.compose.yaml', () => {
  it('gets every variable it references from the compose environment of gateway and worker, with no default', () => {
    assert.deepEqual(configVariables, ['SWITCHYARD_API_KEY']);
    for (const name of ['gateway', 'worker']) {
      for (const variable of configVariables) {
        assert.equal(environment(name)[variable], apiKey, `${name} must pass ${variable} through`);
        // `${VAR:?message}`: a default would be a key that everyone who read this file knows.
        assert.match(rawEnvironment(name)[variable] ?? '', new RegExp(`^\\$\\{${variable}:\\?[^}]+\\}$`), `${name}: ${variable} must be required, with no default`);
      }
    }
  });

  it('refuses to start without SWITCHYARD_API_KEY, and with an empty one, naming the variable', () => {
    for (const env of [{}, { SWITCHYARD_API_KEY: '' }] as Array<Record<string, string>>) {
      assert.throws(() => interpolate(composeSource, env), /required variable SWITCHYARD_API_KEY is missing a value: set SWITCHYARD_API_KEY/);
    }
  });

  it('publishes every port on loopback only, unless the user opts in for the gateway alone', () => {
    for (const name of Object.keys(services)) {
      for (const [port, { address }] of bindings(name)) assert.equal(address, '127.0.0.1', `services.${name} publishes ${port} on ${address}`);
    }
    assert.equal(bindings('temporal-ui').get(8233)?.address, '127.0.0.1', 'the Web UI must be on loopback');
    assert.equal([...bindings('temporal').values()].find((b) => b.container === 7233)?.address, '127.0.0.1', 'gRPC must be published on loopback only');
    // The opt-in widens the gateway and nothing else.
    const opened = object(object(interpolate(composeSource, { SWITCHYARD_API_KEY: TEST_KEY, SWITCHYARD_PUBLISH_ADDRESS: '0.0.0.0' }), 'compose').services, 'services');
    assert.equal(bindings('gateway', opened).get(3000)?.address, '0.0.0.0');
    for (const name of Object.keys(opened).filter((n) => n !== 'gateway')) {
      for (const [port, { address }] of bindings(name, opened)) assert.equal(address, '127.0.0.1', `services.${name} publishes ${port} on ${address} after the gateway opt-in`);
    }
  });

  it('passes the real config validation with the compose defaults', () => {
    const config = parseConfig(configSource, { SWITCHYARD_API_KEY: apiKey });
    assert.equal(config.temporal.address, 'temporal:7233');
    assert.equal(config.gateway.host, '0.0.0.0');
    assert.equal(config.gateway.port, 3000);
    assert.ok(config.gateway.allowedHosts.includes('localhost:3000'), 'allowedHosts must accept the published port');
    assert.ok(config.gateway.allowedHosts.includes('127.0.0.1:3000'), 'allowedHosts must accept the published port');
    assert.deepEqual(config.tenants.map((t) => t.apiKeys), [[apiKey]]);
    assert.equal(config.servers.length, 1);
    const server = config.servers[0]!;
    assert.equal(server.id, 'everything');
    assert.equal(server.transport, 'http');
    assert.equal(server.transport === 'http' ? server.url : undefined, 'http://everything:3001/mcp');
  });

  it('keeps the audit log in the audit-db PostgreSQL, which gateway and worker wait for', () => {
    const config = parseConfig(configSource, { SWITCHYARD_API_KEY: apiKey });
    assert.equal(config.audit.enabled, true);
    const url = new URL(config.audit.store ?? '');
    assert.equal(url.protocol, 'postgres:');
    assert.ok(url.hostname in services, `audit.store host "${url.hostname}" is not a compose service`);
    assert.match(image(url.hostname), /^postgres:/);
    const env = environment(url.hostname);
    assert.equal(decodeURIComponent(url.username), env.POSTGRES_USER);
    assert.equal(decodeURIComponent(url.password), env.POSTGRES_PASSWORD);
    assert.equal(url.pathname.slice(1), env.POSTGRES_DB);
    assert.equal(url.port || '5432', '5432');
    assert.ok(binds(url.hostname).size === 0 && strings(service(url.hostname).volumes ?? [], 'volumes').some((v) => v.endsWith(':/var/lib/postgresql/data')), 'the audit database keeps its data in a named volume');
    assert.equal(ports(url.hostname).size, 0, 'the audit database is not published');
    for (const name of ['gateway', 'worker']) assert.equal(dependsOn(name)[url.hostname], 'service_healthy', `${name} must wait for ${url.hostname}`);
  });

  it('points at services and ports that docker-compose.yml provides', () => {
    const config = parseConfig(configSource, { SWITCHYARD_API_KEY: 'a-different-key-0123456789' });
    assert.deepEqual(config.tenants[0]?.apiKeys, ['a-different-key-0123456789'], 'the key must come from the environment');
    const [temporalHost] = config.temporal.address.split(':');
    assert.ok(temporalHost !== undefined && temporalHost in services, `temporal.address host "${temporalHost}" is not a compose service`);
    assert.equal(environment('temporal-admin-tools').TEMPORAL_ADDRESS, config.temporal.address);
    assert.equal(environment('temporal-ui').TEMPORAL_ADDRESS, config.temporal.address);
    for (const server of config.servers) {
      assert.equal(server.transport, 'http');
      if (server.transport !== 'http') continue;
      const url = new URL(server.url);
      assert.ok(url.hostname in services, `${server.id}: host "${url.hostname}" is not a compose service`);
      assert.equal(url.port, environment(url.hostname).PORT ?? '3001', `${server.id}: port differs from the service's PORT`);
      assert.equal(url.pathname, '/mcp');
    }
    assert.ok(commandLine('everything').includes('streamableHttp'), 'everything must serve Streamable HTTP');
    assert.ok(ports('gateway').has(config.gateway.port), 'the gateway port must be published');
  });

  it('fails validation without the API key, naming the key path', () => {
    assert.throws(
      () => parseConfig(configSource, {}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
        assert.equal(error.source, CONFIG_FILE);
        assert.deepEqual(error.problems, ['tenants[0].apiKeys[0]: environment variable SWITCHYARD_API_KEY is not set']);
        return true;
      },
    );
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));

  it('builds on node:24-bookworm-slim (the Node line package.json asks for) with npm ci and npm run build', () => {
    const bases = instructions.filter((line) => /^FROM\s/i.test(line)).map((line) => line.split(/\s+/)[1]);
    assert.ok(bases.length > 0, 'no FROM');
    for (const base of bases) assert.equal(base, 'node:24-bookworm-slim');
    assert.equal(image('everything'), 'node:24-bookworm-slim', 'the example server runs on the same Node line');
    assert.ok(instructions.some((line) => /^RUN\s.*\bnpm ci\b/.test(line)), 'no `npm ci`');
    assert.ok(instructions.some((line) => /^RUN\s.*\bnpm run build\b/.test(line)), 'no `npm run build`');
    const scripts = object(JSON.parse(read('package.json')), 'package.json').scripts;
    assert.ok(object(scripts, 'scripts').build, 'package.json has no build script');
  });

  it('runs bin/switchyard.js and ships the compiled code', () => {
    const entrypoints = instructions.filter((line) => /^ENTRYPOINT\s/.test(line));
    assert.equal(entrypoints.length, 1);
    assert.deepEqual(JSON.parse(entrypoints[0]!.replace(/^ENTRYPOINT\s+/, '')), ['node', 'bin/switchyard.js']);
    assert.ok(existsSync(`${root}bin/switchyard.js`));
    const finalStage = instructions.slice(instructions.findLastIndex((line) => /^FROM\s/.test(line)));
    for (const path of ['/app/dist', '/app/bin', '/app/node_modules']) {
      assert.ok(finalStage.some((line) => line.startsWith('COPY --from=build') && line.includes(path)), `the final stage must copy ${path}`);
    }
  });

  it('copies only paths that exist in the repository', () => {
    const copies = instructions.filter((line) => /^COPY\s/.test(line) && !line.includes('--from='));
    assert.ok(copies.length > 0);
    for (const line of copies) {
      const parts = line.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) assert.ok(existsSync(`${root}${source}`), `COPY source "${source}" does not exist`);
    }
  });
});

describe('the telemetry stack in docker-compose.yml', () => {
  it('turns tracing and metrics on in gateway and worker, by OTEL_* variables alone, and sends traces to Jaeger', () => {
    for (const name of ['gateway', 'worker']) {
      const env = environment(name);
      const settings = telemetrySettings(env, `switchyard-${name}`);
      assert.ok(settings.traces && settings.metrics, `${name}: traces and metrics must be on`);
      assert.equal(new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT!).hostname, 'jaeger', `${name} must export to the jaeger service`);
      assert.equal(new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT!).port, '4318', 'OTLP over HTTP');
      assert.equal(env.OTEL_EXPORTER_OTLP_PROTOCOL, 'http/protobuf');
    }
    assert.match(image('jaeger'), /^jaegertracing\/all-in-one:/);
  });

  it('has Prometheus scrape the port gateway and worker serve /metrics on', () => {
    assert.equal(binds('prometheus').get('/etc/prometheus/prometheus.yml'), './deploy/prometheus.yml');
    const config = object(parseYaml(read('deploy/prometheus.yml')), 'deploy/prometheus.yml');
    const targets = (config.scrape_configs as Json[]).flatMap((job) => (job.static_configs as Json[]).flatMap((s) => strings(s.targets, 'targets')));
    for (const name of ['gateway', 'worker']) assert.ok(targets.includes(`${name}:${environment(name).OTEL_EXPORTER_PROMETHEUS_PORT}`), `Prometheus must scrape ${name}`);
  });

  it("ships a Grafana dashboard whose queries use only metrics the code records", () => {
    assert.equal(binds('grafana').get('/var/lib/grafana/dashboards'), './deploy/grafana/dashboards');
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/switchyard-slis.json')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const source = read('src/observability/metrics.ts');
    const defined = [...source.matchAll(/'(switchyard\.[a-z_.]+)'/g)].map((m) => m[1]!.replaceAll('.', '_'));
    const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b(switchyard_[a-z_]+)/g)].map((m) => m[1]!))));
    assert.ok(used.size >= 8, 'the dashboard covers the SLIs');
    for (const name of used) {
      assert.ok(defined.some((d) => name === d || name === `${d}_total` || /_(bucket|sum|count)$/.test(name) && name.replace(/_(bucket|sum|count)$/, '') === d), `${name} is not a metric the code records`);
    }
    for (const sli of ['Latency', 'Throughput', 'Timeout', 'Dead-letter', 'Deadline', 'Retries', 'Queue depth']) {
      assert.ok(dashboard.panels.some((p) => p.title.startsWith(sli)), `no panel for ${sli}`);
    }
  });
});
