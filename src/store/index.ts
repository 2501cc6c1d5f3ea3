/** The store: repositories over one database (SQLite or PostgreSQL). */
import { openDb, type Db, type OpenOptions } from './db.js';
import { ApiKeyRepository } from './api-keys.js';
import { AuditRepository } from './audit-events.js';
import { ChangeRepository } from './changes.js';
import { ProviderAccountRepository } from './provider-accounts.js';
import { OrganizationRepository } from './organizations.js';
import { UserRepository } from './users.js';
import { UsageEventRepository } from './usage-events.js';
import { SessionRepository } from './sessions.js';
import { InviteRepository } from './invites.js';

export interface Store {
  readonly db: Db;
  readonly orgs: OrganizationRepository;
  readonly users: UserRepository;
  readonly keys: ApiKeyRepository;
  readonly audit: AuditRepository;
  readonly changes: ChangeRepository;
  readonly providerAccounts: ProviderAccountRepository;
  /** The usage ledger (one row per gateway request). */
  readonly usage: UsageEventRepository;
  /** Dashboard sign-in sessions and invite links. */
  readonly sessions: SessionRepository;
  readonly invites: InviteRepository;
  close(): Promise<void>;
}

export async function openStore(url: string, opts: OpenOptions = {}): Promise<Store> {
  const db = await openDb(url, opts);
  const k = db.kysely;
  const changes = new ChangeRepository(k);
  return {
    db,
    orgs: new OrganizationRepository(k, changes),
    users: new UserRepository(k),
    keys: new ApiKeyRepository(k, changes),
    audit: new AuditRepository(k),
    changes,
    providerAccounts: new ProviderAccountRepository(k, changes),
    usage: new UsageEventRepository(k, db.dialect, db.sqlite),
    sessions: new SessionRepository(k),
    invites: new InviteRepository(k),
    close: () => db.close(),
  };
}
