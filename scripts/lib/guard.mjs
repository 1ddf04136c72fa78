/**
 * Loaded with --import into every bench child: when the bench's IPC channel closes (the bench exited,
 * crashed or was killed), the child stops itself, so no server outlives its bench.
 */
if (process.send) {
  // The channel must not keep the child alive by itself.
  process.channel?.unref()
  process.on('disconnect', () => {
    process.kill(process.pid, 'SIGTERM')
    setTimeout(() => process.exit(1), 12_000).unref()
  })
}
