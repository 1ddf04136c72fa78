/** Who is calling: what the auth plugin finds for a request's API key and what services authorise against. */
export type Role = 'admin' | 'finance' | 'reporter'

export interface Principal {
  keyId: string
  role: Role
  /** Set for reporters: the only org they may see and write. */
  orgId: string | null
}

/** The principal of an API key's secret; null when the key is unknown or revoked. */
export type FindPrincipal = (secret: string) => Promise<Principal | null>
