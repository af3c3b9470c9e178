// Who may see the detail of /readyz (Temporal, each downstream server's state and reason, session
// count): the operator. The health endpoints need no API key, so anyone who can reach the port can
// ask; to an unauthenticated caller from elsewhere they answer only ready/degraded/not_ready.
// The operator is a request from loopback (the socket's own peer address, not a header), or one
// that carries an admin API key of any tenant (the servers are shared by all tenants).
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import type { Config } from '../../config/schema.js';
import { apiKeyPrincipals } from './auth.js';

export interface OperatorViewOptions {
  tenants: Config['tenants'];
}

/** Decides, per request, whether it may see operator detail. */
export function operatorView(options: OperatorViewOptions): (c: Context) => boolean {
  const principalOf = apiKeyPrincipals(options.tenants);
  return function seesDetail(c) {
    if (principalOf(c.req.header('authorization'))?.admin === true) return true;
    // A reverse proxy on the same host connects from loopback on behalf of anyone: a request it
    // forwarded (it says so in these headers) is not the operator's own.
    if (c.req.header('forwarded') !== undefined || c.req.header('x-forwarded-for') !== undefined) return false;
    return isLoopbackAddress(socketAddress(c));
  };
}

/** The peer address of the request's socket, as @hono/node-server reports it (c.env.incoming). */
function socketAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    // No Node socket (app.request in a test without one): unknown, so not loopback.
    return undefined;
  }
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
