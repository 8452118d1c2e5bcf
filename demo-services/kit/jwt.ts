// Bearer tokens for the shop's public API: HS256 JWTs (jose) signed with a
// secret the lab generates per run, issued to each virtual user by the load
// generator and verified by the gateway.

import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';

export const JWT_ISSUER = 'faultline-lab';
export const JWT_AUDIENCE = 'faultline-shop';

const key = (secret: string) => new TextEncoder().encode(secret);

export async function issueToken(secret: string, subject: string, ttlSeconds = 3_600): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuer(JWT_ISSUER)
    .setAudience(JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(key(secret));
}

export class AuthError extends Error {
  readonly code = 'FL_UNAUTHORIZED';
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

/** The subject of a valid `Authorization: Bearer <jwt>` header; AuthError saying what is wrong otherwise. */
export async function verifyBearer(secret: string, authorization: string | undefined): Promise<string> {
  if (!authorization) throw new AuthError('missing Authorization header');
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization.trim());
  if (!match) throw new AuthError('Authorization must be "Bearer <jwt>"');
  try {
    const { payload } = await jwtVerify(match[1] as string, key(secret), { issuer: JWT_ISSUER, audience: JWT_AUDIENCE, algorithms: ['HS256'] });
    if (!payload.sub) throw new AuthError('token has no subject');
    return payload.sub;
  } catch (error) {
    if (error instanceof AuthError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new AuthError('token expired');
    if (error instanceof joseErrors.JWTClaimValidationFailed) throw new AuthError(`token claim ${error.claim} is invalid`);
    throw new AuthError('token signature or format is invalid');
  }
}
