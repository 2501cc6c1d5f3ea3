/** What each organisation role may do through the API, as key permissions plus role-only actions. */
import { PERMISSIONS, type Permission } from '../keys/permissions.js';
import type { Role } from '../store/users.js';

/** Members use the platform and manage their own keys; they read, but do not change, providers. */
const MEMBER: readonly Permission[] = ['chat', 'embeddings', 'audio', 'models:read', 'usage:read', 'keys:read', 'keys:write', 'providers:read'];

export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  owner: PERMISSIONS,
  admin: PERMISSIONS,
  member: MEMBER,
};

const RANK: Record<Role, number> = { member: 0, admin: 1, owner: 2 };

/** True when `role` is at least `needed` (owner > admin > member). */
export const roleAtLeast = (role: Role, needed: Role): boolean => RANK[role] >= RANK[needed];

/** Members see and change only the keys they created; admins and owners see everyone's. */
export const seesOnlyOwnKeys = (role: Role): boolean => role === 'member';
