// Node-only helpers of the SDK (import from '@flock/client/node'): keep them out of browser bundles.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { defaultPlatform, type ClientPlatform } from './platform.js';

export interface NodePlatformOptions {
  /** PEM CA certificate(s) to trust for https (self-signed coordinators). */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** A ClientPlatform whose fetch trusts the given CA (node:https); randomness and clock as the default. */
export function nodeClientPlatform(options: NodePlatformOptions = {}): ClientPlatform {
  return {
    ...defaultPlatform,
    fetch: (url, init) =>
      new Promise((resolve, reject) => {
        const u = new URL(url);
        const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
          u,
          { method: init?.method ?? 'GET', headers: init?.headers ?? {}, ...(options.ca !== undefined && u.protocol === 'https:' ? { ca: options.ca } : {}) },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
              const body = Buffer.concat(chunks);
              const status = res.statusCode ?? 0;
              resolve({
                ok: status >= 200 && status < 300,
                status,
                arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
                text: async () => body.toString('utf8'),
              });
            });
          },
        );
        req.on('error', reject);
        req.end();
      }),
  };
}
