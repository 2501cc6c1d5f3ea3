/** Validation of dashboard account input (sign-in, setup, invites, members, organisations). */
import { z } from 'zod';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './password.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
export const email = z.string().trim().max(254).regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$|^[^\s@]+@localhost$/, 'must be an email address');
const displayName = z.string().trim().min(1, 'must not be empty').max(200).refine((s) => !CONTROL.test(s), 'must not contain control characters');
export const newPassword = z.string().min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`).max(MAX_PASSWORD_LENGTH);
const role = z.enum(['owner', 'admin', 'member']);

export const signInSchema = z.object({ email: z.string().max(254), password: z.string().min(1).max(MAX_PASSWORD_LENGTH) }).strict();
export const setupSchema = z.object({ email, name: displayName, password: newPassword, organization_name: displayName }).strict();
export const passwordSchema = z.object({ current_password: z.string().min(1).max(MAX_PASSWORD_LENGTH), new_password: newPassword }).strict();
export const switchOrgSchema = z.object({ organization_id: z.string().min(1).max(64) }).strict();
export const createOrgSchema = z.object({ name: displayName }).strict();
export const updateOrgSchema = z.object({ name: displayName.optional(), plan: z.string().min(1).max(64).optional() }).strict();
export const roleSchema = z.object({ role }).strict();
export const createInviteSchema = z.object({ role, email: email.nullable().optional() }).strict();
export const inviteTokenSchema = z.object({ token: z.string().min(1).max(128) }).strict();
export const acceptInviteSchema = z.object({
  token: z.string().min(1).max(128),
  email: email.optional(), name: displayName.optional(), password: newPassword.optional(),
}).strict();
