import type { Principal } from './middleware/auth.js';

/** Hono context variables, typed once. */
export interface GatewayEnv {
  Variables: {
    principal: Principal;
  };
}
