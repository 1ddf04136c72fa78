import type { Config } from './config.js'
import type { Database, Db } from './db/client.js'

/** What route plugins receive: built once in `buildApp`, passed down explicitly (no module singletons). */
export interface Deps {
  config: Config
  database: Database
  db: Db
  /** The current time; tests pass a fixed clock. */
  now: () => Date
}
