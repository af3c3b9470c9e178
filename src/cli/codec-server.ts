// `switchyard codec-server`, and the one `switchyard dev` starts beside its Web UI.
import { randomBytes } from 'node:crypto';
import type { Config, EncryptionConfig } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import { startCodecServer, type RunningCodecServer } from '../temporal/codec-server.js';
import { codecFromConfig } from '../temporal/data-converter.js';

export async function runCodecServer(config: Config, log: Logger, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const encryption = config.encryption;
  if (encryption === undefined) {
    err('switchyard codec-server: encryption is not configured (the `encryption` section; see docs/security.md)\n');
    return 2;
  }
  const { host, port, token, allowedOrigins } = encryption.codecServer;
  if (token === undefined) {
    err('switchyard codec-server: encryption.codecServer.token is required (a random secret of at least 32 characters)\n');
    return 2;
  }
  const server = await startCodecServer({ codec: codecFromConfig(encryption), token, allowedOrigins, host, port, log });
  out(
    `Switchyard codec server is running at ${server.url} (POST /encode, /decode; bearer token required)\n` +
      `  CORS origins:  ${allowedOrigins.length > 0 ? allowedOrigins.join(', ') : 'none (browsers cannot call it)'}\n` +
      'Press Ctrl-C to stop.\n',
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  return 0;
}

/**
 * The codec server of `switchyard dev`, for its own Web UI. The UI cannot send a header, so it
 * gets the token in its endpoint's path; without a configured token it is random per run.
 */
export async function startDevCodecServer(config: Config, encryption: EncryptionConfig, log: Logger): Promise<RunningCodecServer & { uiEndpoint: string }> {
  const { host, port, allowedOrigins } = encryption.codecServer;
  const token = encryption.codecServer.token ?? randomBytes(32).toString('base64url');
  const ui = config.temporal.uiPort;
  const server = await startCodecServer({
    codec: codecFromConfig(encryption),
    token,
    allowedOrigins: [...allowedOrigins, `http://127.0.0.1:${ui}`, `http://localhost:${ui}`],
    host,
    port,
    log,
  });
  return { ...server, uiEndpoint: `${server.url}/${encodeURIComponent(token)}` };
}
