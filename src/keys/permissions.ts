/** Key permissions and their presets, as documented. */
export const PERMISSIONS = [
  'chat', 'embeddings', 'audio', 'models:read', 'usage:read',
  'keys:read', 'keys:write', 'providers:read', 'providers:write',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const DEFAULT_PERMISSIONS: readonly Permission[] = ['chat', 'embeddings', 'audio', 'models:read'];
export const READ_ONLY_PERMISSIONS: readonly Permission[] = PERMISSIONS.filter((p) => p.endsWith(':read'));

export function isPermission(p: string): p is Permission {
  return (PERMISSIONS as readonly string[]).includes(p);
}

/**
 * Resolve `all`, `read_only`, a comma list or an array into a sorted, de-duplicated list.
 * Returns the first unknown name instead when there is one.
 */
export function resolvePermissions(input: string | readonly string[]): { ok: true; permissions: Permission[] } | { ok: false; unknown: string } {
  const items = typeof input === 'string' ? input.split(',').map((s) => s.trim()).filter(Boolean) : [...input];
  const out = new Set<Permission>();
  for (const item of items) {
    if (item === 'all') PERMISSIONS.forEach((p) => out.add(p));
    else if (item === 'read_only') READ_ONLY_PERMISSIONS.forEach((p) => out.add(p));
    else if (isPermission(item)) out.add(item);
    else return { ok: false, unknown: item };
  }
  return { ok: true, permissions: PERMISSIONS.filter((p) => out.has(p)) };
}
