import { randomBase62 } from '../keys/format.js';

/** Public object ids: a type prefix and 20 random base62 characters (`key_...`, `org_...`). */
export const newId = (prefix: 'org' | 'usr' | 'key' | 'evt' | 'prv' | 'inv'): string => `${prefix}_${randomBase62(20)}`;
