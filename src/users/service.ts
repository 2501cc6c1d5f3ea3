/**
 * Dashboard accounts: first-run setup, sign-in (slow hash, throttled), password change,
 * organisations (list, create, switch), members and their roles, and invite links.
 * Returns data or throws ApiError; the HTTP layer sets cookies and status codes.
 */
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { deriveSubkey } from '../keys/hash.js';
import { ApiError, invalidRequest, notFound } from '../errors.js';
import type { Store } from '../store/index.js';
import type { NewAuditEvent } from '../store/audit-events.js';
import type { Invite } from '../store/invites.js';
import type { Organization } from '../store/organizations.js';
import type { Member, MembershipView, Role, User } from '../store/users.js';
import { newId } from '../store/ids.js';
import { hashPassword, verifyPassword } from './password.js';
import type { LoginThrottle } from './login-throttle.js';

export interface UserActor { userId: string; ip: string | null }

export interface UserServiceDeps {
  store: Store;
  secret: string;
  throttle: LoginThrottle;
  inviteTtlMs: number;
  now?: () => number;
}

const slugify = (name: string): string =>
  name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'org';

export class UserService {
  private readonly store: Store;
  private readonly now: () => number;

  /** The invite-token hash key, derived from BACKBONE_SECRET (HKDF) for this use only. */
  private readonly inviteKey: KeyObject;

  constructor(private readonly deps: UserServiceDeps) {
    this.store = deps.store;
    this.now = deps.now ?? Date.now;
    this.inviteKey = createSecretKey(deriveSubkey(deps.secret, 'dashboard-invite'));
  }

  /** True until someone with a password exists: the dashboard then offers first-run setup. */
  async setupRequired(): Promise<boolean> {
    return (await this.store.users.countWithPassword()) === 0;
  }

  /**
   * First run: the owner account, made owner of the default organisation (renamed as asked).
   * Refused (409) once any user can sign in, so the endpoint cannot be used to take over.
   */
  async setup(input: { email: string; name: string; password: string; organizationName: string }, ip: string | null): Promise<{ user: User; org: Organization }> {
    const closed = () => new ApiError('conflict', 'Setup is already complete; sign in instead');
    if (!(await this.setupRequired())) throw closed();
    const passwordHash = await hashPassword(input.password);
    const org = await this.store.orgs.ensureDefault();
    // Checked again inside the transaction: two concurrent setups cannot both create an owner.
    const user = await this.store.users.createFirstOwner(
      { email: input.email, name: input.name, passwordHash, orgId: org.id, orgName: input.organizationName },
      (userId) => this.audit(org.id, userId, ip, 'setup.completed', 'organization', org.id, { owner: input.email.toLowerCase(), organization_name: input.organizationName }),
    );
    if (!user) throw closed();
    return { user, org: (await this.store.orgs.byId(org.id)) ?? org };
  }

  /** Email and password -> the user and the organisation to start in. Wrong answers are throttled per email and address. */
  async signIn(email: string, password: string, ip: string): Promise<{ user: User; orgId: string }> {
    const wait = this.deps.throttle.blockedFor(email, ip);
    if (wait > 0) {
      throw new ApiError('rate_limit_exceeded', 'Too many failed sign-in attempts; try again later', { headers: { 'retry-after': String(wait) } });
    }
    const found = await this.store.users.byEmail(email);
    const ok = await verifyPassword(password, found?.passwordHash ?? null);
    const orgs = ok && found ? await this.store.users.organizations(found.id) : [];
    if (!ok || !found || orgs.length === 0) {
      this.deps.throttle.recordFailure(email, ip);
      throw new ApiError('invalid_credentials', 'Incorrect email or password');
    }
    return { user: { id: found.id, email: found.email, name: found.name, createdAt: found.createdAt }, orgId: orgs[0]!.orgId };
  }

  async changePassword(userId: string, current: string, next: string, ip: string): Promise<void> {
    const user = await this.store.users.byId(userId);
    if (!user) throw notFound('user');
    const wait = this.deps.throttle.blockedFor(user.email, ip);
    if (wait > 0) throw new ApiError('rate_limit_exceeded', 'Too many failed attempts; try again later', { headers: { 'retry-after': String(wait) } });
    if (!(await verifyPassword(current, user.passwordHash))) {
      this.deps.throttle.recordFailure(user.email, ip);
      throw new ApiError('invalid_credentials', 'The current password is incorrect', { param: 'current_password' });
    }
    await this.store.users.setPassword(userId, await hashPassword(next));
  }

  organizations(userId: string): Promise<MembershipView[]> {
    return this.store.users.organizations(userId);
  }

  /** A new organisation owned by its creator (on the free plan). */
  async createOrganization(name: string, actor: UserActor): Promise<Organization> {
    const base = slugify(name);
    for (let attempt = 0; attempt < 5; attempt++) {
      const slug = attempt === 0 ? base : `${base}-${randomBytes(3).toString('hex')}`;
      if (await this.store.orgs.bySlug(slug)) continue;
      const org = await this.store.orgs.create({ slug, name });
      await this.store.users.addMembership(org.id, actor.userId, 'owner', this.audit(org.id, actor.userId, actor.ip, 'organization.created', 'organization', org.id, { name }));
      return org;
    }
    throw new ApiError('conflict', 'Could not find a free slug for this organisation; try another name');
  }

  async requireMembership(userId: string, orgId: string): Promise<Role> {
    const role = await this.store.users.role(orgId, userId);
    if (!role) throw notFound('organization');
    return role;
  }

  members(orgId: string): Promise<Member[]> {
    return this.store.users.members(orgId);
  }

  /** Owners change roles; the last owner cannot be demoted (an organisation always has one). */
  async setRole(orgId: string, userId: string, role: Role, actor: UserActor): Promise<void> {
    const current = await this.store.users.role(orgId, userId);
    if (!current) throw notFound('member');
    if (current === role) return;
    if (current === 'owner') await this.keepAnOwner(orgId);
    await this.store.users.setRole(orgId, userId, role, this.audit(orgId, actor.userId, actor.ip, 'member.role_changed', 'user', userId, { from: current, to: role }));
  }

  async removeMember(orgId: string, userId: string, actor: UserActor): Promise<void> {
    const current = await this.store.users.role(orgId, userId);
    if (!current) throw notFound('member');
    if (current === 'owner') await this.keepAnOwner(orgId);
    await this.store.users.removeMembership(orgId, userId, this.audit(orgId, actor.userId, actor.ip, 'member.removed', 'user', userId, { role: current }));
  }

  private async keepAnOwner(orgId: string): Promise<void> {
    const owners = (await this.store.users.members(orgId)).filter((m) => m.role === 'owner');
    if (owners.length <= 1) throw invalidRequest('An organisation needs at least one owner; make someone else owner first', 'role');
  }

  private inviteHash(token: string): string {
    return createHmac('sha256', this.inviteKey).update(`invite:${token}`).digest('base64url');
  }

  /** A single-use invite link token (returned once, stored only as a keyed hash). */
  async createInvite(orgId: string, input: { role: Role; email: string | null }, actor: UserActor): Promise<{ invite: Invite; token: string }> {
    const token = randomBytes(24).toString('base64url');
    const now = this.now();
    const invite: Invite = {
      id: newId('inv'), orgId, email: input.email?.toLowerCase() ?? null, role: input.role, createdBy: `user:${actor.userId}`,
      createdAt: now, expiresAt: now + this.deps.inviteTtlMs, acceptedAt: null, acceptedBy: null,
    };
    await this.store.invites.create({ ...invite, tokenHash: this.inviteHash(token) },
      this.audit(orgId, actor.userId, actor.ip, 'invite.created', 'invite', invite.id, { role: invite.role, email: invite.email }));
    return { invite, token };
  }

  pendingInvites(orgId: string): Promise<Invite[]> {
    return this.store.invites.pending(orgId);
  }

  async deleteInvite(orgId: string, id: string, actor: UserActor): Promise<void> {
    if (!(await this.store.invites.delete(orgId, id, this.audit(orgId, actor.userId, actor.ip, 'invite.deleted', 'invite', id, {})))) throw notFound('invite');
  }

  /** A usable invite for a token, with its organisation; 404 when unknown, used or expired. */
  async findInvite(token: string): Promise<{ invite: Invite; org: Organization }> {
    const invite = token.length <= 128 ? await this.store.invites.byTokenHash(this.inviteHash(token)) : undefined;
    const org = invite && await this.store.orgs.byId(invite.orgId);
    if (!invite || !org || invite.acceptedAt !== null || invite.expiresAt <= this.now()) {
      throw new ApiError('not_found', 'This invite link is invalid, has expired or has already been used');
    }
    return { invite, org };
  }

  /**
   * Accept an invite as a signed-in user (`userId`) or by creating an account (email, name,
   * password). Single use: a second acceptance, even a concurrent one, is refused.
   */
  async acceptInvite(token: string, who: { userId: string } | { email: string; name: string; password: string }, ip: string | null): Promise<{ user: User; orgId: string }> {
    const { invite } = await this.findInvite(token);
    let user: User;
    if ('userId' in who) {
      const u = await this.store.users.byId(who.userId);
      if (!u) throw notFound('user');
      user = u;
    } else {
      if (invite.email && invite.email !== who.email.toLowerCase()) throw invalidRequest('This invite is for a different email address', 'email');
      if (await this.store.users.byEmail(who.email)) throw new ApiError('conflict', 'An account with this email exists; sign in first, then open the invite link again');
      user = await this.store.users.create({ email: who.email, name: who.name, passwordHash: await hashPassword(who.password) });
    }
    if (invite.email && invite.email !== user.email) throw invalidRequest('This invite is for a different email address', 'email');
    const accepted = await this.store.invites.accept(invite.id, user.id, this.now(),
      this.audit(invite.orgId, user.id, ip, 'invite.accepted', 'invite', invite.id, { role: invite.role, email: user.email }));
    if (!accepted) throw new ApiError('not_found', 'This invite link is invalid, has expired or has already been used');
    return { user, orgId: invite.orgId };
  }

  private audit(orgId: string, userId: string, ip: string | null, action: string, targetType: string, targetId: string, details: Record<string, unknown>): NewAuditEvent {
    return { orgId, actor: `user:${userId}`, action, targetType, targetId, details, ip };
  }
}
