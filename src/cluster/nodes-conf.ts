/**
 * nodes.conf in Redis's format: the CLUSTER NODES lines plus `vars currentEpoch N
 * lastVoteEpoch M`, written (atomically) whenever the cluster configuration changes and
 * read at start-up.
 */
import { readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { ClusterNode, type ClusterState, NODE_MYSELF, parseFlagWords } from './node-table.js';
import { nodesText } from './node-description.js';

/** nodes.conf's text for `st`. */
export function formatNodesConf(st: ClusterState): string {
  return `${nodesText(st)}vars currentEpoch ${st.currentEpoch} lastVoteEpoch ${st.lastVoteEpoch}\n`;
}

/**
 * Writes nodes.conf through a temporary file and a rename, so a crash never leaves half a file;
 * `fsync` (CLUSTER SAVECONFIG) also waits for the disk, as Redis does only there and for epochs.
 */
export function saveNodesConf(path: string, st: ClusterState, fsync = false): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, formatNodesConf(st));
  if (fsync) {
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  renameSync(tmp, path);
}

/** Parses `ip:port@cport[,hostname]`. */
function parseAddress(n: ClusterNode, field: string): boolean {
  const comma = field.indexOf(',');
  const addr = comma >= 0 ? field.slice(0, comma) : field;
  n.hostname = comma >= 0 ? field.slice(comma + 1) : '';
  const at = addr.indexOf('@');
  const colon = addr.lastIndexOf(':', at < 0 ? addr.length : at);
  if (colon < 0) return false;
  n.ip = addr.slice(0, colon);
  n.port = Number(addr.slice(colon + 1, at < 0 ? addr.length : at));
  n.cport = at < 0 ? n.port + 10000 : Number(addr.slice(at + 1));
  return Number.isInteger(n.port) && Number.isInteger(n.cport);
}

/**
 * Loads nodes.conf into a fresh state: false when the file does not exist, an error message
 * when it is not valid (Redis refuses to start then).
 */
export function loadNodesConf(path: string, st: ClusterState): boolean | string {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    return `Unable to read the cluster config file ${path}: ${(e as Error).message}`;
  }
  if (text.trim() === '') return false;
  const get = (name: string): ClusterNode => {
    let n = st.nodes.get(name);
    if (n === undefined) {
      n = new ClusterNode(name, 0);
      st.nodes.set(name, n);
    }
    return n;
  };
  const pending: [string, number, string, string][] = [];
  let sawMyself = false;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 0 || f[0] === '') continue;
    if (f[0] === 'vars') {
      for (let i = 1; i + 1 < f.length; i += 2) {
        if (f[i] === 'currentEpoch') st.currentEpoch = Number(f[i + 1]);
        else if (f[i] === 'lastVoteEpoch') st.lastVoteEpoch = Number(f[i + 1]);
      }
      continue;
    }
    if (f.length < 8) return `Unrecoverable error: corrupted cluster config file "${line}".`;
    const flags = parseFlagWords(f[2]!);
    let n: ClusterNode;
    if ((flags & NODE_MYSELF) !== 0) {
      st.nodes.delete(st.myself.name);
      st.myself.name = f[0]!;
      st.nodes.set(f[0]!, st.myself);
      n = st.myself;
      sawMyself = true;
    } else n = get(f[0]!);
    if (!parseAddress(n, f[1]!)) return `Unrecoverable error: corrupted cluster config file "${line}".`;
    n.flags = flags;
    n.replicaOf = f[3] === '-' ? null : f[3]!;
    n.configEpoch = Number(f[6]);
    for (let j = 8; j < f.length; j++) {
      const tok = f[j]!;
      if (tok.startsWith('[')) {
        const mig = tok.indexOf('->-');
        const imp = tok.indexOf('-<-');
        if (mig > 0) pending.push(['m', Number(tok.slice(1, mig)), tok.slice(mig + 3, -1), n.name]);
        else if (imp > 0) pending.push(['i', Number(tok.slice(1, imp)), tok.slice(imp + 3, -1), n.name]);
        continue;
      }
      const dash = tok.indexOf('-');
      const a = Number(dash < 0 ? tok : tok.slice(0, dash));
      const b = dash < 0 ? a : Number(tok.slice(dash + 1));
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b >= 16384 || a > b)
        return `Unrecoverable error: corrupted cluster config file "${line}".`;
      for (let s = a; s <= b; s++) st.addSlot(n, s);
    }
  }
  if (!sawMyself) return 'Unrecoverable error: corrupted cluster config file (no myself node).';
  for (const [kind, slot, name] of pending) {
    const other = get(name);
    if (kind === 'm') st.migratingTo[slot] = other;
    else st.importingFrom[slot] = other;
    st.refreshSlot(slot);
  }
  // The bus reconnects and re-learns who is alive.
  for (const n of st.nodes.values()) {
    if (n !== st.myself) n.flags &= ~4;
    const master = st.masterOf(n);
    if (master !== null) st.follow(n, master);
  }
  return true;
}
