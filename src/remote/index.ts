export { buildCommand, quoteArg, validateArg, maxArgLength, maxCommandLength } from './quote.ts';
export {
  renderRemoteCommand, validateRemoteCommand, defaultMaxOutputBytes, remoteKillAfterMs, maxCommandTimeoutMs,
  type RemoteCommand, type RenderOptions,
} from './remote-command.ts';
export {
  parseKnownHosts, parsePinnedKey, knownHostsName, hostFieldMatches, fingerprintSha256, keyTypeOfBlob,
  buildHostKeyPolicy, checkHostKey, createHostVerifier, hostKeyAlgorithmsFor,
  type HostPublicKey, type KnownHostEntry, type ParsedKnownHosts, type HostKeyPolicyInput, type HostKeyPolicy, type HostKeyCheck,
} from './known-hosts.ts';
export type { ExecResult, ExecOptions, Executor } from './executor.ts';
export { localExec, createLocalExecutor, type LocalExecOptions } from './local-exec.ts';
export {
  SshPool, type SshPoolOptions, type SshExecOptions, type SshPoolStats, type SshConnectionStats, type FreshSshConnection,
} from './ssh-pool.ts';
export { createSshExecutor } from './ssh-executor.ts';
export { sudoersSnippetPath } from './sudo-refusal.ts';
