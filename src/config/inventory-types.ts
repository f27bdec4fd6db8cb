/** SSH settings for one host, after defaults are merged and relative paths resolved. */
export interface SshSettings {
  user: string;
  port: number;
  /** Absolute path of the private key file. */
  privateKey?: string;
  /** Absolute path of a known_hosts file (plain or hashed entries). */
  knownHosts?: string;
  /** Pinned host keys, `ssh-ed25519 AAAA…` form; checked in addition to knownHosts. */
  hostKeys?: string[];
  /** Privileged probes run through `sudo -n`. */
  sudo: boolean;
  /** Name of another inventory host to hop through. */
  jump?: string;
  /** Handshake timeout. */
  readyTimeoutMs: number;
}

export interface InventoryHost {
  name: string;
  /** IPv4/IPv6 literals, first one preferred for SSH. */
  addresses: string[];
  aliases: string[];
  /** Which workers may reach it; routes probe jobs to `why-blocked.probes.<site>`. */
  site: string;
  ssh: SshSettings;
  /** 1-based line of the host's entry in the inventory file, for error messages. */
  line?: number;
}

export interface Inventory {
  /** Absolute path of the file it was read from. */
  file: string;
  hosts: Map<string, InventoryHost>;
}
