/** Version of the wire protocol described in protocol/v1.md. Sent in the socket.io handshake. */
export const PROTOCOL_VERSION = 1 as const;
