// The "tool" of the engine floor: an echo function, so the floor is the engine's cost alone (no
// MCP, no network hop to a server).
export function createEngineActivities() {
  return {
    async echo(message: string): Promise<string> {
      return message;
    },
    /** engine-key-batch: the calls of one batch, one after another. */
    async echoBatch(messages: string[]): Promise<string[]> {
      const results: string[] = [];
      for (const message of messages) results.push(message);
      return results;
    },
  };
}

export type EngineActivities = ReturnType<typeof createEngineActivities>;
