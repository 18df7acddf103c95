/** The Redis keys of one federation's fleet (docs/explanation/fleet.md "What flows through Redis"). */
export function fleetKeys(federationId: string) {
  const p = `flock:${federationId}:`;
  return {
    lease: `${p}lease`,
    fence: `${p}fence`,
    nodes: `${p}nodes`,
    node: (nodeId: string) => `${p}node:${nodeId}`,
    plan: (nodeId: string) => `${p}plan:${nodeId}`,
    partials: `${p}partials`,
    version: `${p}version`,
    round: `${p}round`,
    model: (version: number) => `${p}model:${version}`,
    versions: `${p}versions`,
    adapter: `${p}socket.io`,
    /** A burnt handshake nonce (fleet/challenges.ts). */
    nonce: (id: string) => `${p}nonce:${id}`,
  };
}

export type FleetKeys = ReturnType<typeof fleetKeys>;
