/** Top self-time functions of a V8 .cpuprofile (as written by node --cpu-prof). */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { ROOT } from '../lib/processes.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface SelfTime {
  fn: string
  where: string
  ms: number
  share: number
}

/**
 * Self time per function and per package (node_modules/<pkg>, src, node internals), as shares of the busy
 * (non-idle) time.
 */
export function topSelfTime(
  file: string,
  limit = 20,
): { totalMs: number; idleShare: number; top: SelfTime[]; byPackage: { pkg: string; share: number }[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, { fn: string; where: string; us: number }>()
  const packages = new Map<string, number>()
  let total = 0
  let idle = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    const node = byId.get(id)
    if (!node) return
    total += dt
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(idle)') idle += dt
    const where = url
      ? `${url.startsWith('file://') ? relative(ROOT, new URL(url).pathname) : url}:${lineNumber + 1}`
      : ''
    if (functionName !== '(idle)') {
      const pkg = packageOf(url, functionName)
      packages.set(pkg, (packages.get(pkg) ?? 0) + dt)
    }
    const key = `${functionName}|${where}`
    const entry = self.get(key) ?? { fn: functionName || '(anonymous)', where, us: 0 }
    entry.us += dt
    self.set(key, entry)
  })
  const busy = Math.max(total - idle, 1)
  const top = [...self.values()]
    .filter((e) => e.fn !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({ fn: e.fn, where: e.where, ms: e.us / 1000, share: e.us / busy }))
  const byPackage = [...packages.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([pkg, us]) => ({ pkg, share: us / busy }))
  return { totalMs: total / 1000, idleShare: total ? idle / total : 0, top, byPackage }
}

function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return m[1]!
  if (url.startsWith('node:')) return 'node:internals'
  if (url.includes('/src/')) return 'src (ours)'
  return url.startsWith('file://') ? relative(ROOT, new URL(url).pathname).split('/')[0]! : url
}
