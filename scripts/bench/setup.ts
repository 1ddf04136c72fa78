/** The bench's processes (our server and the two anchors) and the orgs and keys it works with. */
import { postJson } from '../lib/http.js'
import { type Child, sleep, startChild, startServer } from '../lib/processes.js'
import { rssMb } from './measure.js'

export interface Processes {
  ours: Child
  hello: Child
  anchorPost: Child
  idleRssMb: { server: number; anchor_hello: number; anchor_post: number }
}

/** Our server (the `npm start` bundle, optionally profiled) and the anchors, each answering. */
export async function startProcesses(
  db: { url: string },
  adminSecret: string,
  profileDir: string | undefined,
  log: (msg: string) => void,
): Promise<Processes> {
  const ours = await startServer({
    databaseUrl: db.url,
    adminSecret,
    nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  })
  const anchor = (kind: string, env: Record<string, string>) =>
    startChild({ name: `anchor-${kind}`, script: 'scripts/bench/anchors.ts', args: [kind], env })
  const hello = await anchor('hello', {})
  const anchorPost = await anchor('post', { DATABASE_URL: db.url })
  await hello.waitReady('/healthz')
  await anchorPost.waitReady('/healthz')
  log(
    `server pid ${ours.pid} :${ours.port}, anchor-hello pid ${hello.pid}, anchor-post pid ${anchorPost.pid}`,
  )
  await sleep(1_000)
  const idleRssMb = {
    server: rssMb(ours.pid),
    anchor_hello: rssMb(hello.pid),
    anchor_post: rssMb(anchorPost.pid),
  }
  log(
    `idle RSS after start: server ${idleRssMb.server.toFixed(0)} MB, ` +
      `anchors ${idleRssMb.anchor_hello.toFixed(0)} / ${idleRssMb.anchor_post.toFixed(0)} MB`,
  )
  return { ours, hello, anchorPost, idleRssMb }
}

export interface Actors {
  seedOrgIds: string[]
  seedKey: { id: string }
  reporterOrg: { id: string }
  reporter: { id: string; secret: string }
  finance: { secret: string }
}

/** Orgs and keys through the API, as a client would get them. */
export async function createActors(url: string, adminSecret: string, tag: string, seedOrgs: number) {
  const post = <T>(path: string, body: unknown) => postJson<T>(url, path, body, adminSecret)
  const seedOrgIds: string[] = []
  for (let i = 0; i < seedOrgs; i++) {
    const org = await post<{ id: string }>('/v1/orgs', { name: `bench-seed-${tag}-${i}`, kind: 'enterprise' })
    seedOrgIds.push(org.id)
  }
  const seedKey = await post<{ id: string }>('/v1/api-keys', {
    name: 'bench seeding',
    role: 'reporter',
    org_id: seedOrgIds[0],
  })
  const reporterOrg = await post<{ id: string }>('/v1/orgs', {
    name: `bench-reporter-${tag}`,
    kind: 'trade_union',
  })
  const reporter = await post<{ id: string; secret: string }>('/v1/api-keys', {
    name: 'bench reporter',
    role: 'reporter',
    org_id: reporterOrg.id,
  })
  const finance = await post<{ secret: string }>('/v1/api-keys', { name: 'bench finance', role: 'finance' })
  return { seedOrgIds, seedKey, reporterOrg, reporter, finance } satisfies Actors
}
