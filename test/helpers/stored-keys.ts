import { newKeyId, newSecret } from '../../src/identity/key-secret.ts';
import type { VirtualKey } from '../../src/identity/records.ts';
import type { IdentityStore } from '../../src/stores/identity-store.ts';
import { audit, key } from '../stores/identity-fixtures.ts';

/** A key written straight to a store, with a fresh secret (the store only learns its hash). */
export async function storedKey(store: IdentityStore, teamId: string, fields: Partial<VirtualKey> = {}): Promise<{ key: VirtualKey; secret: string }> {
  const secret = newSecret();
  const record = key(newKeyId(), teamId, { key_name: secret.preview, allowed_tenants: undefined, ...fields });
  await store.createKey(record, secret.hash, audit('key.generate', 'key', record.key_id));
  return { key: record, secret: secret.secret };
}
