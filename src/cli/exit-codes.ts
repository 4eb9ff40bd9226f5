/**
 * The exit codes of the `stratum` command: one per cause of a failed start that asks for a
 * different fix, so that a supervisor or a script can tell them apart (and, say, not restart a
 * server whose port is taken). README.md lists them with their meanings as written here.
 */
export const exitCodes = {
  ok: 0,
  failed: 1,
  usage: 2,
  portInUse: 3,
  cannotListen: 4,
  dataDirIsFile: 5,
  dataDirNotWritable: 6,
  dataDirLocked: 7,
  dataDirUnusable: 8,
  diskFull: 9,
  credentialsUnusable: 10,
  insecure: 11,
} as const

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes]

export const exitCodeMeanings: Readonly<Record<keyof typeof exitCodes, string>> = {
  ok: 'done; `serve`: stopped gracefully on SIGTERM or SIGINT',
  failed: "an admin command's call failed; `serve` could not start for a cause not listed below, or its shutdown failed",
  usage: 'bad usage: an unknown command or flag, or a bad value',
  portInUse: 'the port is in use',
  cannotListen: "the address cannot be listened on: a port below 1024 without the privilege, a host that is not this machine's or does not resolve",
  dataDirIsFile: 'the data folder, or a folder on its path, is a file',
  dataDirNotWritable: 'the data folder is not writable (permissions, a read-only file system)',
  dataDirLocked: 'another process holds the data folder',
  dataDirUnusable: 'the data folder holds files of another format, or was written with another `--shard`',
  diskFull: "the data folder's volume has no room to open the store",
  credentialsUnusable: 'a TLS file or the token file cannot be read or used',
  insecure: '`serve` would listen beyond loopback without TLS and tokens, and `--insecure` was not given',
}
