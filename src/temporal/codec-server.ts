// The remote codec endpoint the Temporal Web UI (and `temporal --codec-endpoint`) calls to show
// encrypted payloads: POST /encode and /decode with `{payloads: [...]}` in Temporal's JSON form.
// It decrypts anything it is given, so it demands the configured bearer token. A browser page
// cannot add a header to the UI's requests, so the token may instead be the first path segment
// (`/<token>/decode`): a capability URL, given only to the Web UI that `switchyard dev` starts.
import { createHash, timingSafeEqual } from 'node:crypto';
import { serve, type ServerType } from '@hono/node-server';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { Hono, type Context } from 'hono';
import type { Logger } from '../observability/log.js';
import { PayloadDecryptionError } from './codec.js';

export interface CodecServerOptions {
  codec: PayloadCodec;
  token: string;
  /** Browser origins (the Web UI's) allowed by CORS; no other origin gets CORS headers. */
  allowedOrigins: string[];
  log: Logger;
  /** Largest request body (default 16 MiB: the UI sends a workflow's payloads together). */
  maxBodyBytes?: number;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export function createCodecApp(options: CodecServerOptions): Hono {
  const { codec, log } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const allowed = new Set(options.allowedOrigins);
  const expected = digest(options.token);
  const app = new Hono();

  const cors = (c: Context) => {
    const origin = c.req.header('origin');
    if (origin === undefined || !allowed.has(origin)) return;
    c.header('Access-Control-Allow-Origin', origin);
    c.header('Access-Control-Allow-Methods', 'POST, OPTIONS');
    c.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Namespace');
    c.header('Access-Control-Max-Age', '600');
  };

  app.use('*', async (c, next) => {
    c.header('Vary', 'Origin');
    cors(c);
    await next();
  });
  // A preflight carries no credentials; it only learns whether the origin may ask.
  app.options('*', (c) => c.body(null, 204));

  const handle = (direction: 'encode' | 'decode', pathToken?: string) => async (c: Context) => {
    const bearer = /^Bearer (.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const presented = pathToken ?? bearer;
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      c.header('WWW-Authenticate', 'Bearer realm="switchyard-codec"');
      return c.json({ error: 'unauthorized: send Authorization: Bearer <encryption.codecServer.token>' }, 401);
    }
    const length = Number(c.req.header('content-length') ?? 0);
    if (length > maxBodyBytes) return c.json({ error: `request body over ${maxBodyBytes} bytes` }, 413);
    let payloads: Payload[];
    try {
      payloads = fromJson(await c.req.json());
    } catch (error) {
      return c.json({ error: `expected {"payloads": [{"metadata": {...}, "data": "<base64>"}]}: ${(error as Error).message}` }, 400);
    }
    try {
      const out = direction === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      log.info(`codec ${direction}`, { payloads: payloads.length, namespace: c.req.header('x-namespace') ?? '' });
      return c.json({ payloads: out.map(toJson) });
    } catch (error) {
      if (error instanceof PayloadDecryptionError) return c.json({ error: error.message, keyId: error.keyId }, 422);
      throw error;
    }
  };
  app.post('/encode', handle('encode'));
  app.post('/decode', handle('decode'));
  app.post('/:token/encode', (c) => handle('encode', c.req.param('token'))(c));
  app.post('/:token/decode', (c) => handle('decode', c.req.param('token'))(c));
  app.notFound((c) => c.json({ error: 'not found: POST /encode or /decode' }, 404));
  app.onError((error, c) => {
    log.error('codec server error', { error: String(error) });
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}

export interface RunningCodecServer {
  url: string;
  close(): Promise<void>;
}

export async function startCodecServer(options: CodecServerOptions & { host: string; port: number }): Promise<RunningCodecServer> {
  const app = createCodecApp(options);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function fromJson(body: unknown): Payload[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('the body is not a JSON object');
  // Proto3 JSON leaves out an empty list: the Temporal CLI sends `{}` for no payloads.
  const payloads = (body as { payloads?: unknown }).payloads ?? [];
  if (!Array.isArray(payloads)) throw new Error('"payloads" is not a list');
  return payloads.map((p: JsonPayload, i) => {
    if (p === null || typeof p !== 'object') throw new Error(`payloads[${i}] is not an object`);
    const metadata: Record<string, Uint8Array> = {};
    for (const [key, value] of Object.entries(p.metadata ?? {})) {
      if (typeof value !== 'string') throw new Error(`payloads[${i}].metadata.${key} is not base64`);
      metadata[key] = Buffer.from(value, 'base64');
    }
    if (p.data !== undefined && typeof p.data !== 'string') throw new Error(`payloads[${i}].data is not base64`);
    return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
  });
}

function toJson(payload: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) if (value) metadata[key] = Buffer.from(value).toString('base64');
  return { metadata, data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64') };
}
