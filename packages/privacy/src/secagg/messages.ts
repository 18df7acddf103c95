/**
 * SecAgg+ stage messages: plain objects with Uint8Array binary fields (socket.io sends them as
 * binary attachments). Their zod schemas live in @flock/protocol (packages/protocol/src/secagg.ts);
 * the engine re-checks every field it uses (defence in depth), so it also works without zod.
 */

/** Stage 1, client -> server: fresh round keys, signed with the long-term identity key. */
export interface AdvertiseKeysMessage {
  stage: 'advertise-keys';
  session: string;
  round: number;
  clientId: string;
  /** Long-term Ed25519 identity public key (32). */
  identityKey: Uint8Array;
  /** Fresh X25519 public key for share encryption (nacl.box) (32). */
  encryptionKey: Uint8Array;
  /** Fresh X25519 public key for pairwise masks (32). */
  maskKey: Uint8Array;
  /** SHA-256 commitment to the self-mask seed (32). */
  selfSeedCommitment: Uint8Array;
  /** Ed25519 signature over advertiseSignedBytes(...) (64). */
  signature: Uint8Array;
}

/** Server -> every client that advertised: the roster U1. */
export interface RosterMessage {
  stage: 'roster';
  session: string;
  round: number;
  entries: AdvertiseKeysMessage[];
}

export interface EncryptedShare {
  /** Receiving (to) or sending (from) client id, depending on direction. */
  peer: string;
  /** nonce | nacl.box(SHA-256(context) | maskKeyShare(33) | selfSeedShare(33)). */
  ciphertext: Uint8Array;
}

/** Stage 2, client -> server: one encrypted share bundle per neighbour (peer = receiver). */
export interface ShareKeysMessage {
  stage: 'share-keys';
  session: string;
  round: number;
  clientId: string;
  shares: EncryptedShare[];
}

/** Server -> each client in U2: bundles addressed to it (peer = sender). */
export interface ShareDeliveryMessage {
  stage: 'share-delivery';
  session: string;
  round: number;
  clientId: string;
  shares: EncryptedShare[];
}

/** Stage 3, client -> server: the masked vector, 4m bytes, uint32 little-endian. */
export interface MaskedInputMessage {
  stage: 'masked-input';
  session: string;
  round: number;
  clientId: string;
  masked: Uint8Array;
}

/** Server -> each client in U3: who survived (sent masked input) and who dropped (U2 \ U3). */
export interface UnmaskRequestMessage {
  stage: 'unmask-request';
  session: string;
  round: number;
  survivors: string[];
  dropped: string[];
}

export interface RevealedShare {
  /** The client whose secret this share belongs to. */
  owner: string;
  share: Uint8Array;
}

/** Stage 4, client -> server: self-seed shares of survivors, mask-key shares of dropped clients. */
export interface UnmaskResponseMessage {
  stage: 'unmask';
  session: string;
  round: number;
  clientId: string;
  selfSeedShares: RevealedShare[];
  maskKeyShares: RevealedShare[];
}

export type SecAggClientMessage = AdvertiseKeysMessage | ShareKeysMessage | MaskedInputMessage | UnmaskResponseMessage;
export type SecAggServerMessage = RosterMessage | ShareDeliveryMessage | UnmaskRequestMessage;
