// The RBAC policy at the front door (the engine is src/shared/policy.ts): the caller's rights for
// filtering listings, and the one way a request outside them is refused. Every refusal of the
// gateway goes through `refuse` below, so whatever must see refusals (the log today, the audit log
// next) hooks in at one place: `onRefusal`.
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { Config, Mutation } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import { AccessPolicy, ALLOW_ALL, type AccessTarget, type PolicyIdentity, type Rights } from '../shared/policy.js';
import { effectivePolicy, mutationFromAnnotations } from './envelope.js';
import { ACCESS_DENIED, JsonRpcError, printable } from './jsonrpc.js';
import type { Principal } from './auth/principal.js';

/** One request refused by the policy, as the gateway tells `onRefusal` (and its log). */
export interface Refusal {
  tenant: string;
  subject: string;
  /** The MCP method refused: `tools/call`, `prompts/get`, `resources/read`, … */
  method: string;
  /** What was asked for: a downstream tool, prompt or resource, or a broker tool. */
  kind: AccessTarget['kind'];
  /** As the client named it (a tool's public name, a prompt's, a resource URI). */
  name: string;
  /** A correlation id, when the refused request belongs to a call (a redrive on the worker). */
  correlationId?: string;
}

export interface AccessOptions {
  log: Logger;
  /** Told of every refusal, after it is logged and before it is answered (the audit log's hook). */
  onRefusal?: (refusal: Refusal) => void;
}

export class GatewayAccess {
  private readonly policy: AccessPolicy | undefined;

  constructor(
    private readonly config: Config,
    private readonly options: AccessOptions,
  ) {
    this.policy = config.auth.policy !== undefined ? new AccessPolicy(config.auth.policy) : undefined;
  }

  /** Whether a policy is configured; without one every principal may use everything. */
  get enabled(): boolean {
    return this.policy !== undefined;
  }

  rightsOf(principal: Principal): Rights {
    return this.policy === undefined ? ALLOW_ALL : this.policy.rightsOf(policyIdentity(principal));
  }

  /** A downstream tool as the policy sees it: its server, its downstream name, and the mutation class its calls run with. */
  toolTarget(serverId: string, tool: string, annotations: ToolAnnotations | undefined): AccessTarget {
    const server = this.config.servers.find((s) => s.id === serverId);
    const mutation: Mutation = (server && effectivePolicy(server, tool).mutation) ?? mutationFromAnnotations(annotations);
    return { kind: 'tool', server: serverId, name: tool, mutation };
  }

  /** Throws the refusal when the caller may not call this downstream tool (tools/call, submit, a saga step). */
  checkTool(principal: Principal, tool: { serverId: string; tool: string; publicName: string; definition: { annotations?: ToolAnnotations | undefined } }, method: string): void {
    this.check(principal, this.toolTarget(tool.serverId, tool.tool, tool.definition.annotations), method, tool.publicName);
  }

  /** Throws the refusal when `target` is outside the caller's rights. */
  check(principal: Principal, target: AccessTarget, method: string, name: string): void {
    if (!this.rightsOf(principal).allows(target)) this.refuse({ tenant: principal.tenant, subject: principal.subject, method, kind: target.kind, name });
  }

  /**
   * The one refusal: logged, told to `onRefusal`, and answered with ACCESS_DENIED naming what was
   * asked for and nothing of the policy (which rule, which groups would do).
   */
  refuse(refusal: Refusal): never {
    this.options.log.warn('request refused by the access policy', { ...refusal });
    try {
      this.options.onRefusal?.(refusal);
    } catch (error) {
      this.options.log.error('onRefusal hook failed', { error: error instanceof Error ? error.message : String(error) });
    }
    throw accessDenied(refusal.kind, refusal.name);
  }
}

/** The policy's view of a principal; the same fields the envelope records for the worker's re-check. */
export function policyIdentity(principal: Principal): PolicyIdentity {
  return {
    tenant: principal.tenant,
    subject: principal.subject,
    admin: principal.admin,
    ...(principal.groups !== undefined ? { groups: principal.groups } : {}),
    ...(principal.roles !== undefined ? { roles: principal.roles } : {}),
    ...(principal.keyName !== undefined ? { keyName: principal.keyName } : {}),
  };
}

const NOUNS: Record<AccessTarget['kind'], string> = { tool: 'tool', broker: 'tool', prompt: 'prompt', resource: 'resource' };

export function accessDenied(kind: AccessTarget['kind'], name: string): JsonRpcError {
  return new JsonRpcError(ACCESS_DENIED, `Access denied: this caller may not use the ${NOUNS[kind]} ${printable(name, 200)} (access policy)`);
}
