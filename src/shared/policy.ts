// The RBAC policy engine (config `auth.policy`; docs/security.md, "RBAC policy"): which tools,
// prompts, resources and broker tools a principal may use. Pure: no I/O, no clock, no config
// reading. The gateway asks it when it lists and admits requests (gateway/access.ts); the worker
// asks it again before a dead letter's redrive runs (activities/access.ts), so a right revoked
// since the call was accepted stops the redrive.
//
// Semantics. No policy: everything is allowed (as before RBAC). With a policy, a principal's rules
// are those whose `principals` match it; a target is allowed when one of those rules' `allow`
// covers it and none of their `deny` does. Deny wins over allow, whatever the rules' order; no
// matching allow is a refusal.
import type { Mutation } from '../config/schema.js';

/** The broker's own tools by short name, for checking `broker` globs in the config (test/unit/policy.test.ts keeps it equal to the registry). */
export const BROKER_TOOL_NAMES = ['submit', 'get_call', 'cancel_call', 'run_saga', 'saga_commit', 'saga_abort', 'get_saga', 'dlq_list', 'dlq_show', 'dlq_redrive', 'dlq_discard', 'audit_list'] as const;

/** What a grant (`allow` or `deny`) names; every list is of globs where `*` matches any run of characters. */
export interface PolicyGrant {
  /** `<server>.<tool>` with downstream names, whatever gateway.toolSeparator is. */
  tools?: string[];
  /** Mutation classes of downstream tools; with `tools`, both must match. */
  mutations?: Mutation[];
  /** `<server>.<prompt>`. */
  prompts?: string[];
  /** `<server>.<uri>`: the server that lists the resource, then its URI. */
  resources?: string[];
  /** The broker's tools by short name (`get_call`, `dlq_*`). */
  broker?: string[];
}

/** Who a rule is for: every field given must match (each list is any-of); none given matches everyone. */
export interface PrincipalMatch {
  tenants?: string[];
  /** Globs over the principal's subject: `oauth:<sub>` or `apikey:<digest prefix>`. */
  subjects?: string[];
  /** From the token's groups claim (auth.oauth.claims.groups). */
  groups?: string[];
  /** From the token's roles claim (auth.oauth.claims.roles). */
  roles?: string[];
  /** Names of API keys (tenants[].apiKeys[].name). */
  apiKeys?: string[];
  /** The tenant's operators (admin API keys, the admin claim) or everyone else. */
  admin?: boolean;
}

export interface PolicyRule {
  name?: string | undefined;
  principals?: PrincipalMatch | undefined;
  allow?: PolicyGrant | undefined;
  deny?: PolicyGrant | undefined;
}

export interface PolicyConfig {
  rules: PolicyRule[];
}

/** Who asks: recorded in a call's envelope too, so the worker can ask again. Holds nothing secret. */
export interface PolicyIdentity {
  tenant: string;
  subject: string;
  admin?: boolean;
  groups?: readonly string[];
  roles?: readonly string[];
  keyName?: string;
}

export type AccessTarget =
  | { kind: 'tool'; server: string; name: string; mutation: Mutation }
  | { kind: 'prompt'; server: string; name: string }
  | { kind: 'resource'; server: string; uri: string }
  | { kind: 'broker'; name: string };

/** What one principal may use. */
export interface Rights {
  allows(target: AccessTarget): boolean;
}

/** No policy configured: everything, as before RBAC. */
export const ALLOW_ALL: Rights = { allows: () => true };

export class AccessPolicy {
  private readonly rules: CompiledRule[];

  constructor(config: PolicyConfig) {
    this.rules = config.rules.map(compileRule);
  }

  /** The rights of one principal: its matching rules, kept for the many checks of a listing. */
  rightsOf(identity: PolicyIdentity): Rights {
    const mine = this.rules.filter((rule) => rule.matches(identity));
    return { allows: (target) => mine.some((r) => r.allow?.(target) === true) && !mine.some((r) => r.deny?.(target) === true) };
  }
}

/** The rights of `identity` under `policy`; everything when no policy is configured. */
export function rightsOf(policy: AccessPolicy | undefined, identity: PolicyIdentity): Rights {
  return policy === undefined ? ALLOW_ALL : policy.rightsOf(identity);
}

/** `*` matches any run of characters (dots and slashes too); everything else is literal. */
export function globPattern(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`, 's');
}

/**
 * A `<server>.<name>` glob split at its first dot (server ids never contain one); `*` alone is
 * every server and name. Undefined when the glob has no dot.
 */
export function splitQualifiedGlob(glob: string): { server: string; name: string } | undefined {
  if (glob === '*') return { server: '*', name: '*' };
  const at = glob.indexOf('.');
  if (at <= 0 || at === glob.length - 1) return undefined;
  return { server: glob.slice(0, at), name: glob.slice(at + 1) };
}

interface CompiledRule {
  matches(identity: PolicyIdentity): boolean;
  allow?: (target: AccessTarget) => boolean;
  deny?: (target: AccessTarget) => boolean;
}

function compileRule(rule: PolicyRule): CompiledRule {
  const who = rule.principals ?? {};
  const subjects = who.subjects?.map(globPattern);
  const anyOf = (wanted: readonly string[] | undefined, held: readonly string[] | undefined) => wanted === undefined || (held ?? []).some((h) => wanted.includes(h));
  return {
    matches: (id) =>
      (who.tenants === undefined || who.tenants.includes(id.tenant)) &&
      (subjects === undefined || subjects.some((s) => s.test(id.subject))) &&
      anyOf(who.groups, id.groups) &&
      anyOf(who.roles, id.roles) &&
      (who.apiKeys === undefined || (id.keyName !== undefined && who.apiKeys.includes(id.keyName))) &&
      (who.admin === undefined || who.admin === (id.admin === true)),
    ...(rule.allow !== undefined ? { allow: compileGrant(rule.allow) } : {}),
    ...(rule.deny !== undefined ? { deny: compileGrant(rule.deny) } : {}),
  };
}

function compileGrant(grant: PolicyGrant): (target: AccessTarget) => boolean {
  const tools = grant.tools?.map(qualified);
  const prompts = grant.prompts?.map(qualified);
  const resources = grant.resources?.map(qualified);
  const broker = grant.broker?.map(globPattern);
  const mutations = grant.mutations;
  return (target) => {
    switch (target.kind) {
      case 'tool':
        if (tools === undefined && mutations === undefined) return false;
        return (tools === undefined || tools.some((g) => g(target.server, target.name))) && (mutations === undefined || mutations.includes(target.mutation));
      case 'prompt':
        return prompts?.some((g) => g(target.server, target.name)) === true;
      case 'resource':
        return resources?.some((g) => g(target.server, target.uri)) === true;
      case 'broker':
        return broker?.some((g) => g.test(target.name)) === true;
    }
  };
}

function qualified(glob: string): (server: string, name: string) => boolean {
  // The config refuses a glob without a dot (config/schema.ts); here one matches nothing.
  const split = splitQualifiedGlob(glob);
  if (split === undefined) return () => false;
  const server = globPattern(split.server);
  const name = globPattern(split.name);
  return (s, n) => server.test(s) && name.test(n);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
