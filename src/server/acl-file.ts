/**
 * ACL files (`aclfile`): one `user <name> <rules...>` line per user, loaded all or nothing
 * (ACLLoadFromFile: every bad line is reported and nothing changes) and saved by writing a
 * temporary file that is renamed over the old one.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { AclUser } from '../acl/user.js';
import { RuleError, applyUserRule, describeUser, hasSpaces, mergeSelectorArgs, ruleErrorText } from '../acl/rules.js';

/** Users read from an ACL file, or the error text Redis gives ACL LOAD (and start-up) for it. */
export type AclFileResult = { users: Map<string, AclUser> } | { error: string };

/** Reads and parses the ACL file at `path`; `shownName` is the aclfile setting, as errors quote it. */
export function loadAclFile(path: string, shownName: string, allChannels: boolean): AclFileResult {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    return { error: `Error loading ACLs, opening file '${shownName}': ${errnoText(err)}` };
  }
  return parseAclFile(text, shownName, allChannels);
}

/** strerror-style text of a file error ("No such file or directory"). */
function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'No such file or directory';
  if (code === 'EACCES') return 'Permission denied';
  if (code === 'EISDIR') return 'Is a directory';
  return (err as Error).message;
}

/** Parses ACL file text (latin1): users by name, or every problem found in one line of text. */
export function parseAclFile(text: string, fileName: string, allChannels: boolean): AclFileResult {
  const users = new Map<string, AclUser>();
  let errors = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
    const lineNo = i + 1;
    if (line === '') continue;
    // Split on single spaces as Redis does: doubled spaces give empty rules, which do nothing.
    const argv = line.split(' ');
    if (argv[0] !== 'user' || argv.length < 2) {
      errors += `${fileName}:${lineNo} should start with user keyword followed by the username. `;
      continue;
    }
    const name = argv[1]!;
    if (hasSpaces(name)) {
      errors += `'${fileName}:${lineNo}: username '${name}' contains invalid characters. `;
      continue;
    }
    if (users.has(name)) {
      errors += `WARNING: Duplicate user '${name}' found on line ${lineNo}. `;
      continue;
    }
    const u = new AclUser(name, allChannels);
    users.set(name, u);
    const rules = mergeSelectorArgs(argv.slice(2));
    if (!Array.isArray(rules)) {
      errors += `${fileName}:${lineNo}: Unmatched parenthesis in selector definition.`;
      continue;
    }
    for (const rule of rules) {
      const e = applyUserRule(u, rule.replace(/^[\t\r\n]+|[\t\r\n]+$/g, ''), allChannels);
      if (e !== RuleError.None) errors += `${fileName}:${lineNo}: ${ruleErrorText(e)}. `;
    }
  }
  if (errors !== '') return { error: `${errors}WARNING: ACL errors detected, no change to the previously active ACL rules was performed` };
  return { users };
}

/** The ACL file text for these users (ACL SAVE), in name order. */
export function aclFileText(users: Iterable<AclUser>): string {
  return [...users]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((u) => `user ${u.name} ${describeUser(u)}\n`)
    .join('');
}

/** Writes the ACL file through a temporary file renamed over it; returns the error, or null. */
export function saveAclFile(path: string, users: Iterable<AclUser>): Error | null {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    writeFileSync(tmp, aclFileText(users), { encoding: 'latin1', mode: 0o644 });
    renameSync(tmp, path);
    return null;
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // The temporary file was never written.
    }
    return err as Error;
  }
}
