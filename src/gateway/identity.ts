// What the broker says about itself to MCP clients of either protocol era.
export const SERVER_INFO = { name: 'switchyard', version: '0.1.0' };

export const INSTRUCTIONS =
  'Switchyard runs every tool call as durable work. If a result says the call was accepted and is still running, ' +
  'fetch it later with switchyard.get_call and the correlation_id from the result.';
