// The "tool" of the engine floor: an echo function, so the floor is the engine's cost alone (no
// MCP, no network hop to a server).
export function createEngineActivities() {
  return {
    async echo(message: string): Promise<string> {
      return message;
    },
  };
}

export type EngineActivities = ReturnType<typeof createEngineActivities>;
