/** Throwaway databases on the PostgreSQL server a DATABASE_URL names, and short-lived connections to them. */
import pg from 'pg'

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

/** `baseUrl` with its database replaced by `name`. */
export function databaseUrl(baseUrl: string, name: string): string {
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** The database `baseUrl` names (`postgres` when it names none). */
export function baseDatabaseName(baseUrl: string): string {
  return decodeURIComponent(new URL(baseUrl).pathname.slice(1)) || 'postgres'
}

/** Creates `name` (a plain lower-case identifier), connected as `admin`; `comment` marks whose it is. */
export async function createDatabase(admin: pg.Client, name: string, comment?: string): Promise<void> {
  await admin.query(`create database "${name}"`)
  if (comment !== undefined) await admin.query(`comment on database "${name}" is '${comment}'`)
}

/** Drops `name`, cutting any session still connected to it. */
export async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`drop database if exists "${name}" with (force)`)
}
