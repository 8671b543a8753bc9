export type Role = 'admin' | 'finance' | 'tenant' | 'provider';
export const ROLES: readonly Role[] = ['admin', 'finance', 'tenant', 'provider'];

/** Who is calling: resolved from the API key on every request. */
export interface Principal {
  readonly keyId: string;
  readonly role: Role;
  /** Set exactly when role is `tenant`. */
  readonly tenantId: string | null;
  /** Set exactly when role is `provider`. */
  readonly providerId: string | null;
}
