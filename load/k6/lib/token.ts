// The lab's bearer token (HS256 JWT, demo-services/kit/jwt.ts) built without
// Node or jose, so a k6 script can sign one per virtual user with k6/crypto.
// Pure: the caller supplies base64url encoding and the HMAC, which is how a
// test in Node checks that a token built here passes the gateway's verifier.

/** Must match JWT_ISSUER and JWT_AUDIENCE in demo-services/kit/jwt.ts (load/k6/k6.test.ts checks a token built here verifies). */
export const TOKEN_ISSUER = 'faultline-lab';
export const TOKEN_AUDIENCE = 'faultline-shop';

export interface TokenCrypto {
  /** base64url without padding of a UTF-8 string. */
  base64url(text: string): string;
  /** HMAC-SHA256 of `input` with `secret`, base64url without padding. */
  hmacSha256(secret: string, input: string): string;
}

export function signToken(crypto: TokenCrypto, secret: string, subject: string, nowSeconds: number, ttlSeconds = 3_600): string {
  const header = crypto.base64url(JSON.stringify({ alg: 'HS256' }));
  const claims = crypto.base64url(JSON.stringify({ sub: subject, iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: nowSeconds, exp: nowSeconds + ttlSeconds }));
  const input = `${header}.${claims}`;
  return `${input}.${crypto.hmacSha256(secret, input)}`;
}
