import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { issueToken, verifyBearer, JWT_AUDIENCE, JWT_ISSUER } from './jwt.ts';

const secret = 'a-lab-secret-of-enough-length';

describe('bearer tokens', () => {
  it('verifies what it issued and returns the subject', async () => {
    const token = await issueToken(secret, 'user-7');
    await expect(verifyBearer(secret, `Bearer ${token}`)).resolves.toBe('user-7');
  });

  it.each([
    [undefined, 'missing Authorization header'],
    ['Basic dXNlcjpwYXNz', 'must be "Bearer <jwt>"'],
    ['Bearer not.a.jwt', 'invalid'],
  ])('rejects %s', async (header, message) => {
    await expect(verifyBearer(secret, header)).rejects.toThrow(message);
  });

  it('rejects another secret, an expired token and a foreign audience', async () => {
    const token = await issueToken('another-secret-entirely', 'user-1');
    await expect(verifyBearer(secret, `Bearer ${token}`)).rejects.toThrow('signature');
    const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setIssuer(JWT_ISSUER).setAudience(JWT_AUDIENCE).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(secret));
    await expect(verifyBearer(secret, `Bearer ${expired}`)).rejects.toThrow('expired');
    const foreign = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u').setIssuer(JWT_ISSUER).setAudience('elsewhere').setExpirationTime('1h').sign(new TextEncoder().encode(secret));
    await expect(verifyBearer(secret, `Bearer ${foreign}`)).rejects.toThrow('claim aud');
  });
});
