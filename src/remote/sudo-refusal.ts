import { ErrorCode, WhyBlockedError } from '../errors.ts';

export const sudoersSnippetPath = 'deploy/host/why-blocked.sudoers';

// What sudo -n prints when it would have to prompt (1.9: "a password is required"; older:
// "a terminal is required…"), and what `Defaults requiretty` prints without a pty.
const refusal = /^sudo: (a password is required|a terminal is required to read the password|sorry, you must have a tty to run sudo)/m;

export function isSudoRefusal(code: number | null, stderr: string): boolean {
  return code === 1 && refusal.test(stderr);
}

/** Permanent: a retry cannot grant a permission, so the job layer must not retry it. */
export function sudoPasswordRequiredError(target: string, user: string, argv: readonly string[], stderr: string): WhyBlockedError {
  const line = refusal.exec(stderr)?.[0] ?? 'sudo refused';
  return new WhyBlockedError(ErrorCode.SudoPasswordRequired,
    `sudo on ${target} refused to run \`${argv.join(' ')}\` as root for user ${user} without a password ("${line}"). `
    + `Install the sudoers snippet from ${sudoersSnippetPath} on the host (check it with \`visudo -cf\`, then `
    + '`install -m 0440` it into /etc/sudoers.d/), adjusting the user name; it allows exactly the probe commands, with NOPASSWD.',
    { details: { host: target, user, argv: [...argv], sudo: line } });
}
