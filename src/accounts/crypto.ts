/**
 * Encryption of stored provider credentials: AES-256-GCM under a key derived from BACKBONE_SECRET
 * (HKDF, purpose `provider-credentials`, so it shares no key material with the key-hash pepper).
 *
 * Output: `v1.<iv>.<tag>.<ciphertext>`, each part base64url; a fresh random 12-byte IV per
 * encryption. The organisation id and provider are bound in as additional authenticated data, so
 * a ciphertext copied into another organisation's row (or another provider's) fails to decrypt
 * instead of handing one tenant another's key. The version prefix leaves room for key rotation.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deriveSubkey } from '../keys/hash.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Whose secret this is; authenticated but not encrypted. */
export interface CredentialContext {
  orgId: string;
  provider: string;
}

/** Decryption failed: wrong BACKBONE_SECRET, a tampered or truncated value, or another owner's ciphertext. */
export class CredentialDecryptError extends Error {
  constructor(reason: string) {
    super(`provider credentials cannot be decrypted (${reason})`);
    this.name = 'CredentialDecryptError';
  }
}

export interface CredentialCipher {
  encrypt(plaintext: string, ctx: CredentialContext): string;
  /** Throws CredentialDecryptError on any mismatch. */
  decrypt(ciphertext: string, ctx: CredentialContext): string;
}

// A JSON array cannot be made ambiguous by separators inside either field.
const aad = (ctx: CredentialContext): Buffer => Buffer.from(JSON.stringify(['backbone:provider-credentials', ctx.orgId, ctx.provider]), 'utf8');

/** The cipher for one BACKBONE_SECRET. */
export function createCredentialCipher(secret: string): CredentialCipher {
  const key = deriveSubkey(secret, 'provider-credentials');
  return {
    encrypt(plaintext, ctx) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(ctx));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    decrypt(ciphertext, ctx) {
      const parts = ciphertext.split('.');
      if (parts.length !== 4) throw new CredentialDecryptError('malformed value');
      const [version, ivText, tagText, ctText] = parts as [string, string, string, string];
      if (version !== VERSION) throw new CredentialDecryptError(`unknown format ${version.slice(0, 8)}`);
      const iv = Buffer.from(ivText, 'base64url');
      const tag = Buffer.from(tagText, 'base64url');
      // Pinning the tag length stops truncated-tag forgeries (GCM would otherwise accept short tags).
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new CredentialDecryptError('malformed value');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(ctx));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(Buffer.from(ctText, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        throw new CredentialDecryptError('authentication failed');
      }
    },
  };
}
