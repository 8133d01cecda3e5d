/** The ACL rule language and the permission check, without a server. */
import { describe, expect, it } from 'vitest';
import { CMD } from '../../src/commands/ids.generated.js';
import { ACL_OK, AclChecker, DENIED_CHANNEL, DENIED_CMD, DENIED_KEY, type CheckArgs } from '../../src/acl/check.js';
import { aclFileText, parseAclFile } from '../../src/server/acl-file.js';
import { RuleError, applyUserRule, describeUser, mergeSelectorArgs, splitArgs } from '../../src/acl/rules.js';
import { AclUser } from '../../src/acl/user.js';

function user(...rules: string[]): AclUser {
  const u = new AclUser('u', false);
  for (const r of rules) expect([r, applyUserRule(u, r, false)]).toEqual([r, RuleError.None]);
  return u;
}

function args(...a: string[]): CheckArgs {
  const buf = Buffer.from(a.join(''), 'latin1');
  const argStart = new Int32Array(a.length);
  const argLen = new Int32Array(a.length);
  for (let i = 0, off = 0; i < a.length; off += a[i]!.length, i++) {
    argStart[i] = off;
    argLen[i] = a[i]!.length;
  }
  return { buf, argStart, argLen, argc: a.length };
}

describe('ACL rules', () => {
  it('splits selector text as sdssplitargs: quotes, escapes, unbalanced quotes', () => {
    expect(splitArgs(' +get  ~k ')).toEqual(['+get', '~k']);
    expect(splitArgs('"~a b" \'&c\\\'d\' "\\x41\\n"')).toEqual(['~a b', "&c'd", 'A\n']);
    expect(splitArgs('"open')).toBeNull();
    expect(splitArgs('"a"b')).toBeNull();
  });

  it('joins selectors spread over arguments and reports an unclosed one', () => {
    expect(mergeSelectorArgs(['on', '(+get', '~k)', '(~x)'])).toEqual(['on', '(+get ~k)', '(~x)']);
    expect(mergeSelectorArgs(['on', '(+get', '~k'])).toEqual({ unmatched: 1 });
  });

  it('describes users back as rules that rebuild them', () => {
    const u = user('on', '>pw', '~a*', '%R~r*', '&ch', '-@all', '+@hash', '-hset', '+select|0', '(+get %W~w*)');
    const line = describeUser(u);
    expect(line).toBe(
      'on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* %R~r* resetchannels &ch -@all +@hash -hset +select|0 (%W~w* resetchannels -@all +get)',
    );
    const back = parseAclFile(`user u ${line}\n`, 'f', false);
    if (!('users' in back)) throw new Error(back.error);
    expect(aclFileText(back.users.values())).toBe(`user u ${line}\n`);
  });

  it('refuses bad rules with the reason Redis gives', () => {
    const u = new AclUser('u', false);
    expect(applyUserRule(u, '+nosuch', false)).toBe(RuleError.UnknownName);
    expect(applyUserRule(u, '+config|get|x', false)).toBe(RuleError.SubcommandFirstArg);
    expect(applyUserRule(u, '#abc', false)).toBe(RuleError.BadHash);
    expect(applyUserRule(u, '<nopw', false)).toBe(RuleError.NoSuchPassword);
    expect(applyUserRule(u, '%~k', false)).toBe(RuleError.Syntax);
    applyUserRule(u, 'allkeys', false);
    expect(applyUserRule(u, '~k', false)).toBe(RuleError.KeyAfterAll);
  });

  it('checks commands, keys with their access and channels; the most relevant refusal wins', () => {
    const c = new AclChecker();
    const u = user('+get', '+set', '+publish', '+psubscribe', '%R~r*', '%W~w*', '&news', '&p*');
    expect(c.check(u, CMD.GET, args('GET', 'r1'))).toBe(ACL_OK);
    expect(c.check(u, CMD.GET, args('GET', 'w1'))).toBe(DENIED_KEY);
    expect(c.deniedAt).toBe(1);
    expect(c.check(u, CMD.SET, args('SET', 'w1', 'v'))).toBe(ACL_OK);
    expect(c.check(u, CMD.SET, args('SET', 'w1', 'v', 'GET'))).toBe(DENIED_KEY);
    expect(c.check(u, CMD.INCR, args('INCR', 'w1'))).toBe(DENIED_CMD);
    expect(c.check(u, CMD.PUBLISH, args('PUBLISH', 'sport', 'x'))).toBe(DENIED_CHANNEL);
    expect(c.check(u, CMD.PSUBSCRIBE, args('PSUBSCRIBE', 'p*'))).toBe(ACL_OK);
    expect(c.check(u, CMD.PSUBSCRIBE, args('PSUBSCRIBE', 'px'))).toBe(DENIED_CHANNEL);
    expect(u.unrestricted).toBe(false);
    expect(user('+@all', '~*', '&*').unrestricted).toBe(true);
  });
});
