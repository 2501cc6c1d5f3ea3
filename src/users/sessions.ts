/**
 * Dashboard sessions. The cookie holds a random 32-byte token; the store keeps only its keyed
 * hash (HMAC-SHA-256 with a key derived from BACKBONE_SECRET), so neither a database copy nor a log can sign anyone in.
 * The CSRF token is derived from the session token with a different key label: it is stable for the
 * session, needs no storage, and cannot be computed without the secret.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { deriveSubkey } from '../keys/hash.js';
import type { Store } from '../store/index.js';
import type { Role, User } from '../store/users.js';

export interface ActiveSession {
  tokenHash: string;
  user: User;
  orgId: string;
  role: Role;
  expiresAt: number;
}

export class SessionService {
  /** Its own key, derived from BACKBONE_SECRET (HKDF), as every other use of the secret is. */
  private readonly key: KeyObject;

  constructor(
    private readonly store: Store,
    secret: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createSecretKey(deriveSubkey(secret, 'dashboard-session'));
  }

  get ttlSeconds(): number {
    return Math.floor(this.ttlMs / 1000);
  }

  hash(token: string): string {
    return createHmac('sha256', this.key).update(`session:${token}`).digest('base64url');
  }

  csrfToken(token: string): string {
    return createHmac('sha256', this.key).update(`csrf:${token}`).digest('base64url');
  }

  /** True when `presented` is this session's CSRF token (timing-safe). */
  checkCsrf(token: string, presented: unknown): boolean {
    if (typeof presented !== 'string' || presented.length === 0 || presented.length > 128) return false;
    const expected = Buffer.from(this.csrfToken(token));
    const got = Buffer.from(presented);
    return got.length === expected.length && timingSafeEqual(got, expected);
  }

  /** A new session for the user in `orgId`; returns the token for the cookie (never stored). */
  async create(userId: string, orgId: string, ip: string | null): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    await this.store.sessions.create({ tokenHash: this.hash(token), userId, orgId, createdAt: now, expiresAt: now + this.ttlMs, ip });
    // Sign-ins are rare: a good moment to drop expired rows.
    await this.store.sessions.deleteExpired(now);
    return token;
  }

  /** The live session for a token, with the user's current role; undefined when expired, gone or no longer a member. */
  async resolve(token: string): Promise<ActiveSession | undefined> {
    const tokenHash = this.hash(token);
    const row = await this.store.sessions.get(tokenHash);
    if (!row || row.expiresAt <= this.now()) return undefined;
    const [user, role] = await Promise.all([this.store.users.byId(row.userId), this.store.users.role(row.orgId, row.userId)]);
    if (!user || !role) return undefined;
    return { tokenHash, user: { id: user.id, email: user.email, name: user.name, createdAt: user.createdAt }, orgId: row.orgId, role, expiresAt: row.expiresAt };
  }

  setOrg(tokenHash: string, orgId: string): Promise<void> {
    return this.store.sessions.setOrg(tokenHash, orgId);
  }

  destroy(tokenHash: string): Promise<void> {
    return this.store.sessions.delete(tokenHash);
  }

  destroyOthers(userId: string, keepTokenHash: string): Promise<void> {
    return this.store.sessions.deleteForUser(userId, keepTokenHash);
  }
}
