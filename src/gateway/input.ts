// The input relay at the front door: a durable call that waits for its client's input
// (workflows/input.ts) is shown to the client, and the client's answers go back to the call from
// any gateway. How the client is asked depends on its era:
//
// - 2026-07-28: the tools/call answer is an InputRequiredResult with the broker's own
//   `requestState` (the call's correlation id, the round and the tool, signed by this file's codec
//   under `gateway.sessions.key`); the client retries at any gateway with `inputResponses`, and
//   the retry answers the call's round (modern/handler.ts). A task shows `input_required` in
//   tasks/get and takes its answers through tasks/update (modern/tasks.ts).
// - 2025: the gateway waiting on the call sends the requests to the client on the call's own
//   response stream (elicitation/create, sampling/createMessage, roots/list), if the client declared
//   the capability at initialize, and gives the answers to the call (sessions.ts, `relayToLegacy`).
//
// The downstream server's own requestState never leaves the call's workflow.
import { createHmac, randomBytes } from 'node:crypto';
import { createRequestStateCodec, type RequestStateCodec, type ServerContext } from '@modelcontextprotocol/server';
import type { InputWanted, ToolResult } from '../shared/envelope.js';
import { META } from './envelope.js';
import type { CallToolAnswer, HandlerDeps } from './handlers.js';
import type { Principal } from './middleware/auth.js';
import { acceptedResult, errorResult, outcomeToResult } from './results.js';
import { BROKER_PREFIX } from './tool-names.js';

/** The capabilities a client can answer input requests with; only these are told to downstream servers. */
const RELAYABLE = ['elicitation', 'sampling', 'roots'] as const;

/** Which method each capability answers. */
const METHOD_CAPABILITY: Record<string, (typeof RELAYABLE)[number]> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};

/**
 * The broker's requestState. For a tool call: which call and which round a retry answers, for
 * which tool. For a prompt (`k: 'prompt'`, not a durable call): the prompt, and the downstream
 * server's own state, handed back to it with the retry.
 */
export type BrokerRequestState =
  | {
      /** The call's correlation id. */
      c: string;
      /** The round the client was asked in. */
      r: number;
      /** The tool name the client called (a retry must name the same tool). */
      n: string;
      k?: undefined;
    }
  | { k: 'prompt'; n: string; d?: string };

/** A tools/call answer for a call that waits for input. */
export interface InputAnswer {
  input: InputWanted;
  correlationId: string;
}

export function isInputAnswer(answer: CallToolAnswer): answer is InputAnswer & CallToolAnswer {
  return (answer as { input?: unknown }).input !== undefined;
}

/** The part of a client's capabilities a downstream server may ask input for; undefined when none. */
export function relayableCapabilities(capabilities: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (capabilities === undefined) return undefined;
  const kept: Record<string, unknown> = {};
  for (const name of RELAYABLE) if (capabilities[name] !== undefined) kept[name] = capabilities[name];
  return Object.keys(kept).length > 0 ? kept : undefined;
}

/** The capability an input request needs, or undefined for a method the broker does not relay. */
export function capabilityFor(method: unknown): (typeof RELAYABLE)[number] | undefined {
  return typeof method === 'string' ? METHOD_CAPABILITY[method] : undefined;
}

/**
 * Signs (does not encrypt) the broker's requestState, bound to the tenant and principal. It lasts
 * as long as the longest deadline: the call's workflow refuses an answer after the call's own.
 * Every gateway that shares `gateway.sessions.key` verifies every other's; without the key each
 * process has its own, and a retry must come back to the same gateway.
 */
export function brokerStateCodec(sessionKey: string | undefined, maxDeadlineMs: number): RequestStateCodec<BrokerRequestState> {
  const key = sessionKey !== undefined ? createHmac('sha256', sessionKey).update('switchyard requestState v1').digest() : randomBytes(32);
  return createRequestStateCodec<BrokerRequestState>({
    key,
    ttlSeconds: Math.ceil(maxDeadlineMs / 1000) + 60,
    bind: (ctx: ServerContext) => {
      const info = ctx.http?.authInfo as { clientId?: string; extra?: { tenant?: string } } | undefined;
      return `${info?.extra?.tenant ?? ''}\0${info?.clientId ?? ''}`;
    },
  });
}

/**
 * Gives a call the answers to its round and waits up to `holdMs` for its next step. Undefined when
 * the tenant has no such call. An answer for another round than the call's current one is not
 * taken: the reply then says where the call stands.
 */
export async function answerInput(deps: HandlerDeps, principal: Principal, correlationId: string, round: number | undefined, responses: Record<string, unknown>, holdMs: number) {
  return deps.calls.provideInput(principal.tenant, correlationId, round, responses, holdMs);
}

/**
 * A 2025 client is asked on the call's own response stream (`ask` sends one request and returns
 * its result), round after round, while it waits. A request it did not declare the capability
 * for: an elicitation is declined for it (what a client without forms would answer); a sampling
 * or roots request cannot be, so the call is left waiting (until its deadline, or an answer
 * through tasks/update from a 2026-07-28 client of the same tenant) and the client is told so.
 */
export async function relayToLegacy(
  deps: HandlerDeps,
  principal: Principal,
  answer: CallToolAnswer,
  capabilities: Record<string, unknown> | undefined,
  ask: (request: { method: string; params: Record<string, unknown> }) => Promise<unknown>,
  tool: string,
): Promise<CallToolAnswer> {
  const prefix = `${BROKER_PREFIX}${deps.config.gateway.toolSeparator}`;
  while (isInputAnswer(answer)) {
    const { input, correlationId } = answer;
    const responses: Record<string, unknown> = {};
    for (const [key, request] of Object.entries(input.requests)) {
      const { method, params } = (request ?? {}) as { method?: unknown; params?: unknown };
      const capability = capabilityFor(method);
      if (capability !== undefined && capabilities?.[capability] !== undefined) {
        try {
          responses[key] = await ask({ method: method as string, params: (params ?? {}) as Record<string, unknown> });
        } catch (error) {
          deps.log.debug('a client did not answer an input request', { correlationId, method, error: String(error) });
          return waitingResult(correlationId, tool, `the client did not answer its ${String(method)} request`);
        }
      } else if (capability === 'elicitation') responses[key] = { action: 'decline' };
      else return waitingResult(correlationId, tool, `it needs ${typeof method === 'string' ? method : 'an input request'}, which this client did not declare`);
    }
    const reply = await answerInput(deps, principal, correlationId, input.round, responses, deps.config.defaults.syncWaitMs);
    if (reply?.outcome !== undefined) return outcomeToResult(reply.outcome, correlationId, tool);
    if (reply?.input !== undefined) answer = { input: { status: 'input_required', ...reply.input }, correlationId };
    else return acceptedResult(correlationId, tool, prefix, false);
  }
  return answer;
}

function waitingResult(correlationId: string, tool: string, why: string): ToolResult {
  return errorResult(`${tool} waits for input from the client: ${why}. It waits until its deadline; cancel it with cancel_call. correlation_id: ${correlationId}`, {
    [META.correlationId]: correlationId,
    [META.status]: 'input_required',
  });
}
