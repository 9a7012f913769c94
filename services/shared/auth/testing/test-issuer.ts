import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

/** One signing key of a test issuer. */
export interface TestKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** A fresh ES256 key pair with its public JWK. */
export async function newTestKey(kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { kid, privateKey, publicJwk };
}

/** Options of a minted token; times are Unix seconds relative to now. */
export interface MintOptions {
  readonly issuer: string;
  readonly audience: string | string[];
  readonly subject?: string;
  readonly roles?: unknown;
  readonly expiresInS?: number;
  readonly notBeforeInS?: number;
  readonly extra?: JWTPayload;
}

/** A signed JWT with the given claims, signed by `key` and naming its kid. */
export function mintTestToken(key: TestKey, options: MintOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({
    ...(options.roles === undefined ? {} : { roles: options.roles }),
    ...options.extra,
  })
    .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresInS ?? 300));
  if (options.subject !== undefined) jwt.setSubject(options.subject);
  if (options.notBeforeInS !== undefined) jwt.setNotBefore(now + options.notBeforeInS);
  return jwt.sign(key.privateKey);
}

/** A JWKS endpoint on 127.0.0.1:0 whose keys a test can swap, counting fetches. */
export interface JwksServer {
  readonly url: URL;
  keys: JWK[];
  readonly fetches: () => number;
  close(): Promise<void>;
}

/** Serves `{ keys }` as JSON at /jwks.json. */
export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  let fetches = 0;
  const state = { keys };
  const server: Server = createServer((request, response) => {
    fetches++;
    if (request.url !== "/jwks.json") {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/jwks.json`),
    get keys() {
      return state.keys;
    },
    set keys(next: JWK[]) {
      state.keys = next;
    },
    fetches: () => fetches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
