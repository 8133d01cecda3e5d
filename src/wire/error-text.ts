/**
 * Redis 7.0's error reply texts, all in one place: clients and tests match on them byte for byte,
 * so each is spelled exactly as Redis sends it (the wire layer adds the leading '-' and CRLF).
 */

// Values and arguments.
export const E_SYNTAX = 'ERR syntax error';
export const E_NOT_INT = 'ERR value is not an integer or out of range';
export const E_NOT_FLOAT = 'ERR value is not a valid float';
export const E_NOT_POSITIVE = 'ERR value is out of range, must be positive';
export const E_INT_RANGE = 'ERR value is out of range, value must between -2147483648 and 2147483647';
export const E_NAN_OR_INFINITY = 'ERR value is NaN or Infinity';
export const E_OVERFLOW = 'ERR increment or decrement would overflow';
export const E_DECR_OVERFLOW = 'ERR decrement would overflow';
export const E_INCR_NAN = 'ERR increment would produce NaN or Infinity';
export const E_TOO_BIG = 'ERR string exceeds maximum allowed size (proto-max-bulk-len)';
export const E_OFFSET_RANGE = 'ERR offset is out of range';
export const E_INDEX_RANGE = 'ERR index out of range';
export const E_COUNT_NOT_POSITIVE = 'ERR count should be greater than 0';
export const E_COUNT_NEGATIVE = "ERR COUNT can't be negative";
export const E_LIMIT_NEGATIVE = "ERR LIMIT can't be negative";
export const E_NUMKEYS_NOT_POSITIVE = 'ERR numkeys should be greater than 0';
export const E_UNBLOCK_REASON = 'ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR';
/** What a client blocked in BLPOP… reads when CLIENT UNBLOCK … ERROR ends its wait. */
export const E_UNBLOCKED = 'UNBLOCKED client unblocked via CLIENT UNBLOCK';
/** HRANDFIELD/ZRANDMEMBER: a count of -2^63, outside Redis's [-LONG_MAX, LONG_MAX]. */
export const E_COUNT_LONG_RANGE = 'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807';
/** HRANDFIELD/ZRANDMEMBER with values: a count whose pairs would overflow. */
export const E_OUT_OF_RANGE = 'ERR value is out of range';
export const E_NUMKEYS_OVER_ARGS = "ERR Number of keys can't be greater than number of args";
export const E_TIMEOUT_NOT_FLOAT = 'ERR timeout is not a float or out of range';
export const E_TIMEOUT_NOT_INT = 'ERR timeout is not an integer or out of range';
export const E_TIMEOUT_NEGATIVE = 'ERR timeout is negative';

// LCS.
export const E_LCS_NOT_STRINGS = 'ERR The specified keys must contain string values';
export const E_LCS_LEN_AND_IDX = 'ERR If you want both the length and indexes, please just use IDX.';
export const E_LCS_TOO_BIG = 'ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len';

// A standalone server without cluster, replicas, modules or latency events.
export const E_CLUSTER_DISABLED = 'ERR This instance has cluster support disabled';
export const E_MODULE_LOAD = 'ERR Error loading the extension. Please check the server logs.';
export const E_MODULE_UNLOAD = 'ERR Error unloading module: no such module with that name';
export const E_RDB_ONLY_RANGE = 'ERR value is out of range, value must between 0 and 1';
/** LATENCY GRAPH of an event with no samples. */
export function latencyNoSamples(event: string): string {
  return `ERR No samples available for event '${event}'`;
}
/** REPLCONF with an option Redis does not know. */
export function replconfBadOption(option: string): string {
  return `ERR Unrecognized REPLCONF option: ${option}`;
}
/** REPLCONF ip-address of NET_HOST_STR_LEN bytes or more. */
export function replconfIpTooLong(bytes: number): string {
  return `ERR REPLCONF ip-address provided by replica instance is too long: ${bytes} bytes`;
}

// MIGRATE.
export const E_MIGRATE_KEYS_ARG = 'ERR When using MIGRATE KEYS option, the key argument must be set to the empty string';
export const E_MIGRATE_CONNECT = 'IOERR error or timeout connecting to the client';
/** MIGRATE's socket error while writing to or reading from the target. */
export function migrateIoError(writing: boolean): string {
  return `IOERR error or timeout ${writing ? 'writing' : 'reading'} to target instance`;
}
/** MIGRATE's reply when the target answered an error (its text without the leading '-'). */
export function migrateTargetError(text: string): string {
  return `ERR Target instance replied with error: ${text}`;
}

// Keys and types.
export const E_WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
export const E_NO_KEY = 'ERR no such key';
export const E_BUSYKEY = 'BUSYKEY Target key name already exists.';
export const E_SAME_OBJECT = 'ERR source and destination objects are the same';
export const E_DB_RANGE = 'ERR DB index is out of range';
export const E_SWAPDB_FIRST = 'ERR invalid first DB index';
export const E_SWAPDB_SECOND = 'ERR invalid second DB index';
export const E_INVALID_CURSOR = 'ERR invalid cursor';
export const E_OOM = "OOM command not allowed when used memory > 'maxmemory'.";

// Scripts and functions.
/** A script's redis.call reply too large for the mailbox between shards (script-across.ts). */
export const E_XSHARD_REPLY_TOO_LARGE = 'ERR reply too large for a script call to another shard';
/** redis.call on a key of another shard that the script did not declare (Sabre; Redis Cluster refuses such keys too). */
export const E_XSHARD_UNDECLARED = 'Script attempted to access a key on another shard that was not declared in its keys';
/** redis.call whose own keys live on different shards. */
export const E_XSHARD_SPLIT = 'Script attempted to access keys on different shards in one command';
export const E_BUSY_SCRIPT = 'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.';
export const E_BUSY_FUNCTION = 'BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.';
export const E_NOTBUSY = 'NOTBUSY No scripts in execution right now.';
export const E_UNKILLABLE =
  'UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.';
export const E_NOSCRIPT = 'NOSCRIPT No matching script. Please use EVAL.';

// EXPIRE's and SET's options.
export const E_NX_XX_GT_LT = 'ERR NX and XX, GT or LT options at the same time are not compatible';
export const E_GT_LT = 'ERR GT and LT options at the same time are not compatible';

// Hashes.
export const E_HASH_NOT_INT = 'ERR hash value is not an integer';
export const E_HASH_NOT_FLOAT = 'ERR hash value is not a float';

// Lists.
export const E_RANK_ZERO =
  "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
export const E_MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative";

// Sorted sets.
export const E_MINMAX_NOT_FLOAT = 'ERR min or max is not a float';
export const E_LEX_RANGE = 'ERR min or max not valid string range item';
export const E_SCORE_NAN = 'ERR resulting score is not a number (NaN)';
export const E_WEIGHT_NOT_FLOAT = 'ERR weight value is not a float';
export const E_ZADD_XX_NX = 'ERR XX and NX options at the same time are not compatible';
export const E_ZADD_GT_LT_NX = 'ERR GT, LT, and/or NX options at the same time are not compatible';
export const E_ZADD_INCR_PAIR = 'ERR INCR option supports a single increment-element pair';
export const E_ZRANGE_LIMIT = 'ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX';
export const E_ZRANGE_WITHSCORES_BYLEX = 'ERR syntax error, WITHSCORES not supported in combination with BYLEX';

// Bitmaps (bitops.c).
export const E_BIT_OFFSET = 'ERR bit offset is not an integer or out of range';
export const E_BIT_VALUE = 'ERR bit is not an integer or out of range';
export const E_BITPOS_BIT = 'ERR The bit argument must be 1 or 0.';
export const E_BITOP_NOT = 'ERR BITOP NOT must be called with a single source key.';
export const E_BITFIELD_TYPE = 'ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.';
export const E_BITFIELD_OVERFLOW = 'ERR Invalid OVERFLOW type specified';
export const E_BITFIELD_RO = 'ERR BITFIELD_RO only supports the GET subcommand';

// HyperLogLog (hyperloglog.c).
export const E_HLL_WRONGTYPE = 'WRONGTYPE Key is not a valid HyperLogLog string value.';
export const E_HLL_INVALID = 'INVALIDOBJ Corrupted HLL object detected';
export const E_HLL_NO_KEY = 'ERR The specified key does not exist';
export const E_HLL_NOT_SPARSE = 'ERR HLL encoding is not sparse';
/** PFDEBUG with a subcommand it does not know. */
export function pfdebugUnknown(sub: string): string {
  return `ERR Unknown PFDEBUG subcommand '${sub}'`;
}

// Streams.
/** A blocked XREADGROUP's stream was deleted or replaced. */
export const E_STREAM_GONE = 'UNBLOCKED the stream key no longer exists';
/** A blocked XREADGROUP's group was destroyed. */
export const E_GROUP_GONE = 'NOGROUP the consumer group this client was blocked on no longer exists';

// DUMP/RESTORE and OBJECT.
/** RESTORE's payload failed the version or checksum check. */
export const E_DUMP_PAYLOAD = 'ERR DUMP payload version or checksum are wrong';
export const E_TTL_NEGATIVE = 'ERR Invalid TTL value, must be >= 0';
export const E_IDLETIME_NEGATIVE = 'ERR Invalid IDLETIME value, must be >= 0';
export const E_FREQ_RANGE = 'ERR Invalid FREQ value, must be >= 0 and <= 255';
/** OBJECT FREQ unless an LFU policy is set; Sabre has no LFU policy. */
export const E_NO_LFU =
  'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.';
/** Sabre's own: the snapshot helper command ran without a snapshot started. */
export const E_NO_SNAPSHOT = 'ERR no snapshot in progress';

// COMMAND GETKEYS.
export const E_GETKEYS_INVALID_COMMAND = 'ERR Invalid command specified';
export const E_GETKEYS_NO_KEYS = 'ERR The command has no key arguments';
export const E_GETKEYS_ARITY = 'ERR Invalid number of arguments specified for command';
export const E_GETKEYS_ARGS = 'ERR Invalid arguments specified for command';

// Connections, authentication and clients.
export const E_NOAUTH = 'NOAUTH Authentication required.';
export const E_WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
export const E_AUTH_NO_PASSWORD =
  'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?';
export const E_HELLO_NOAUTH =
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time';
export const E_PROTO_NOT_INT = 'ERR Protocol version is not an integer or out of range';
export const E_NOPROTO = 'NOPROTO unsupported protocol version';
export const E_CLIENT_NAME = 'ERR Client names cannot contain spaces, newlines or special characters.';
export const E_CLIENT_LIB = 'ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.';
export const E_CLIENT_ID = 'ERR Invalid client ID';
export const E_CLIENT_ID_NOT_POSITIVE = 'ERR client-id should be greater than 0';
export const E_NO_CLIENT = 'ERR No such client';
export const E_PAUSE_MODE = 'ERR CLIENT PAUSE mode must be WRITE or ALL';

// Secure defaults: protected mode, protected commands (Redis 7.0's networking.c and server.c).
/** Sent to a non-loopback client, then the connection closes, while protected mode is on and the default user has no password. */
export const E_DENIED_PROTECTED_MODE =
  "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

/** "ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", ..." (and MODULE's). */
export function protectedCommandRefused(command: 'DEBUG' | 'MODULE', option: string): string {
  return `ERR ${command} command not allowed. If the ${option} option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.`;
}

// ACL: refusals (NOPERM), ACL subcommands, ACL files.
export const E_NOPERM_KEY = 'NOPERM this user has no permissions to access one of the keys used as arguments';
export const E_NOPERM_CHANNEL = 'NOPERM this user has no permissions to access one of the channels used as arguments';
/** A queued command the ACL no longer allows when EXEC runs it. */
export const E_NOPERM_EXEC_COMMAND =
  'NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand';
export const E_NOPERM_EXEC_KEY =
  'NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to touch the specified keys';
export const E_NOPERM_EXEC_CHANNEL =
  'NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to access one of the channels used as arguments';
export const E_ACL_USERNAME_SPACES = "ERR Usernames can't contain spaces or null characters";
export const E_ACL_DELETE_DEFAULT = "ERR The 'default' user cannot be removed";
export const E_ACL_NO_FILE =
  'ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.';
export const E_ACL_SAVE_FAILED = 'ERR There was an error trying to save the ACLs. Please check the server logs for more information';
export const E_ACL_GENPASS_BITS =
  'ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096';
/** Redis refuses to start with users both in the config file and in an aclfile. */
export const E_ACL_FILE_AND_USERS =
  'Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.';

/** "NOPERM this user has no permissions to run the 'get' command" (the full name: 'client|kill'). */
export function nopermCommand(name: string): string {
  return `NOPERM this user has no permissions to run the '${name}' command`;
}

/** "ERR Error in ACL SETUSER modifier '<rule>': <reason>" (the rule as sent, latin1). */
export function aclSetuserError(rule: string, reason: string): string {
  return `ERR Error in ACL SETUSER modifier '${rule}': ${reason}`;
}

/** "ERR Unmatched parenthesis in acl selector starting at '<arg>'." */
export function aclUnmatchedParenthesis(arg: string): string {
  return `ERR Unmatched parenthesis in acl selector starting at '${arg}'.`;
}

/** "ERR Unknown category 'foo'" (ACL CAT; at most 128 bytes of the name). */
export function aclUnknownCategory(name: string): string {
  return `ERR Unknown category '${name.slice(0, 128)}'`;
}

/** "ERR User 'foo' not found" (ACL DRYRUN). */
export function aclUserNotFound(name: string): string {
  return `ERR User '${name}' not found`;
}

/** "ERR Command 'foo' not found" (ACL DRYRUN). */
export function aclCommandNotFound(name: string): string {
  return `ERR Command '${name}' not found`;
}

/** "ERR unknown subcommand or wrong number of arguments for 'cat'. Try ACL HELP." (addReplySubcommandSyntaxError). */
export function subcommandSyntaxError(sub: string, container: string): string {
  return `ERR unknown subcommand or wrong number of arguments for '${sub.slice(0, 128)}'. Try ${container} HELP.`;
}

/** ACL DRYRUN's answers (bulk strings, not errors) when the user may not run the command. */
export function dryrunCommandDenied(name: string): string {
  return `This user has no permissions to run the '${name}' command`;
}

/** ACL DRYRUN: a key (or channel: `what`) the user may not access. */
export function dryrunDenied(what: 'key' | 'channel', name: string): string {
  return `This user has no permissions to access the '${name}' ${what}`;
}

// Transactions.
export const E_MULTI_NESTED = 'ERR MULTI calls can not be nested';
export const E_DISCARD_WITHOUT_MULTI = 'ERR DISCARD without MULTI';
export const E_EXEC_WITHOUT_MULTI = 'ERR EXEC without MULTI';
export const E_WATCH_IN_MULTI = 'ERR WATCH inside MULTI is not allowed';
export const E_NOT_IN_MULTI = 'ERR Command not allowed inside a transaction';
export const E_EXECABORT = 'EXECABORT Transaction discarded because of previous errors.';
/** EXEC itself refused (BUSY, …): the transaction is discarded naming why. */
export function execAbortBecause(error: string): string {
  return `EXECABORT Transaction discarded because of: ${error}`;
}

// Malformed request frames (networking.c's processMultibulkBuffer / processInlineBuffer).
export const E_PROTO_MBULK_COUNT_TOO_BIG = 'ERR Protocol error: too big mbulk count string';
export const E_PROTO_BULK_COUNT_TOO_BIG = 'ERR Protocol error: too big bulk count string';
export const E_PROTO_INVALID_MBULK = 'ERR Protocol error: invalid multibulk length';
export const E_PROTO_UNAUTH_MBULK = 'ERR Protocol error: unauthenticated multibulk length';
export const E_PROTO_INVALID_BULK = 'ERR Protocol error: invalid bulk length';
export const E_PROTO_UNAUTH_BULK = 'ERR Protocol error: unauthenticated bulk length';
export const E_PROTO_INLINE_TOO_BIG = 'ERR Protocol error: too big inline request';
export const E_PROTO_UNBALANCED = 'ERR Protocol error: unbalanced quotes in request';

// Server: persistence, SHUTDOWN, SLOWLOG.
/** SAVE's failure: Redis's bare shared.err. */
export const E_ERR = 'ERR';
export const E_BGSAVE_IN_PROGRESS = 'ERR Background save already in progress';
export const E_BGSAVE_CHILD_ACTIVE =
  "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";
export const E_AOF_OFF = 'ERR Background append only file rewriting is not possible: appendonly is off';
export const E_AOF_REWRITE_IN_PROGRESS = 'ERR Background append only file rewriting already in progress';
export const E_NO_SHUTDOWN = 'ERR No shutdown in progress.';
export const E_SLOWLOG_COUNT = 'ERR count should be greater than or equal to -1';

/**
 * "ERR Protocol error: expected '$', got 'x'" for the byte `c` (a latin1 char code): like Redis's
 * addReplyErrorFormat, a CR or LF shows as a space so the reply stays one line.
 */
export function expectedDollar(c: number): string {
  return `ERR Protocol error: expected '$', got '${c === 13 || c === 10 ? ' ' : String.fromCharCode(c)}'`;
}

/** "ERR invalid expire time in 'set' command" for the given lower-case command name. */
export function invalidExpireTime(cmd: string): string {
  return `ERR invalid expire time in '${cmd}' command`;
}

/** "ERR wrong number of arguments for 'client|list' command", as processCommand answers. */
export function wrongArityError(name: string): string {
  return `ERR wrong number of arguments for '${name}' command`;
}

/** "ERR unknown command 'foo', with args beginning with: 'a' 'b' ": `args` is the quoted list, trailing space included. */
export function unknownCommand(name: string, args: string): string {
  return `ERR unknown command '${name}', with args beginning with: ${args}`;
}

/** "ERR unknown command 'foo'": a shard given a command it has no handler for. */
export function noHandler(name: string): string {
  return `ERR unknown command '${name}'`;
}

/** "ERR unknown subcommand 'foo'. Try CLIENT HELP." for `container` in upper case. */
export function unknownSubcommand(name: string, container: string): string {
  return `ERR unknown subcommand '${name}'. Try ${container} HELP.`;
}

/** "ERR internal error: ..." for an exception a command handler did not expect. */
export function internalError(message: string): string {
  return `ERR internal error: ${message}`;
}

/** "ERR Unsupported option NX" (EXPIRE's flags). */
export function unsupportedOption(option: string): string {
  return `ERR Unsupported option ${option}`;
}

/** "ERR at least 1 input key is needed for 'zunionstore' command". */
export function noInputKeys(cmd: string): string {
  return `ERR at least 1 input key is needed for '${cmd}' command`;
}

/** "ERR Unknown option or number of arguments for CONFIG SET - 'foo'". */
export function unknownConfigOption(name: string): string {
  return `ERR Unknown option or number of arguments for CONFIG SET - '${name}'`;
}

/** "ERR CONFIG SET failed (possibly related to argument 'port') - <reason>". */
export function configSetFailed(name: string, reason: string): string {
  return `ERR CONFIG SET failed (possibly related to argument '${name}') - ${reason}`;
}

/** The CONFIG SET failure reason when a tls-* change leaves no usable TLS context (the cause goes to the log). */
export const TLS_RECONFIGURE_FAILED = 'Unable to update TLS configuration. Check server logs.';

/** "ERR Syntax error in HELLO option 'foo'". */
export function helloOptionError(option: string): string {
  return `ERR Syntax error in HELLO option '${option}'`;
}

/** "ERR Unrecognized option 'foo'" (CLIENT SETINFO). */
export function unrecognizedOption(option: string): string {
  return `ERR Unrecognized option '${option}'`;
}

/** "ERR Unknown client type 'foo'" (CLIENT KILL/LIST TYPE). */
export function unknownClientType(type: string): string {
  return `ERR Unknown client type '${type}'`;
}

/** "ERR No such user 'foo'" (CLIENT KILL USER). */
export function noSuchUser(user: string): string {
  return `ERR No such user '${user}'`;
}

/** The reply to a command a RESP2 subscriber may not send. */
export function notInSubscribeContext(cmd: string): string {
  return `ERR Can't execute '${cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`;
}

// Client-side caching (CLIENT TRACKING, CLIENT CACHING).
export const E_TRACKING_ONE_REDIRECT = 'ERR A client can only redirect to a single other client';
export const E_TRACKING_NO_REDIRECT_CLIENT = 'ERR The client ID you want redirect to does not exist';
export const E_TRACKING_PREFIX_NEEDS_BCAST = 'ERR PREFIX option requires BCAST mode to be enabled';
export const E_TRACKING_BCAST_SWITCH =
  "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.";
export const E_TRACKING_OPTS_BCAST = 'ERR OPTIN and OPTOUT are not compatible with BCAST';
export const E_TRACKING_OPTIN_OPTOUT = "ERR You can't specify both OPTIN mode and OPTOUT mode";
export const E_TRACKING_OPTS_SWITCH =
  "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.";
export const E_CACHING_NOT_TRACKING =
  'ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled';
export const E_CACHING_YES = 'ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.';
export const E_CACHING_NO = 'ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.';

/** A BCAST prefix overlapping one the client already has. */
export function prefixOverlapsExisting(prefix: string, existing: string): string {
  return `ERR Prefix '${prefix}' overlaps with an existing prefix '${existing}'. Prefixes for a single client must not overlap.`;
}

/** Two BCAST prefixes of one CLIENT TRACKING call overlapping each other. */
export function prefixOverlapsProvided(prefix: string, other: string): string {
  return `ERR Prefix '${prefix}' overlaps with another provided prefix '${other}'. Prefixes for a single client must not overlap.`;
}
// Geo (geo.c).
export const E_GEO_UNIT = 'ERR unsupported unit provided. please use M, KM, FT, MI';
export const E_GEO_NUM_RADIUS = 'ERR need numeric radius';
export const E_GEO_NEG_RADIUS = 'ERR radius cannot be negative';
export const E_GEO_NUM_WIDTH = 'ERR need numeric width';
export const E_GEO_NUM_HEIGHT = 'ERR need numeric height';
export const E_GEO_NEG_BOX = 'ERR height or width cannot be negative';
export const E_GEO_MEMBER = 'ERR could not decode requested zset member';
export const E_GEO_COUNT = 'ERR COUNT must be > 0';
export const E_GEO_ANY_COUNT = 'ERR the ANY argument requires COUNT argument';

/** A longitude/latitude outside Redis's ranges, printed as C's "%f". */
export function geoBadPair(lon: string, lat: string): string {
  return `ERR invalid longitude,latitude pair ${lon},${lat}`;
}

/** STORE with WITHDIST/WITHHASH/WITHCOORD (`what`: GEOSEARCHSTORE or "STORE option in GEORADIUS"). */
export function geoStoreWith(what: string): string {
  return `ERR ${what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options`;
}

/** GEOSEARCH without FROMMEMBER or FROMLONLAT (the command named as the client spelled it). */
export function geoNeedFrom(cmd: string): string {
  return `ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for ${cmd}`;
}

/** GEOSEARCH without BYRADIUS or BYBOX. */
export function geoNeedBy(cmd: string): string {
  return `ERR exactly one of BYRADIUS and BYBOX can be specified for ${cmd}`;
}

// SORT (sort.c).
export const E_SORT_SCORE = "ERR One or more scores can't be converted into double";

// Replication, master side (replication.c).
export const E_NOREPLICAS = 'NOREPLICAS Not enough good replicas to write.';
export const E_NOMASTERLINK = "NOMASTERLINK Can't SYNC while not connected with my master";
export const E_WAIT_ON_REPLICA =
  'ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.';

// CONFIG REWRITE (config.c).
export const E_NO_CONFIG_FILE = 'ERR The server is running without a config file';

/** CONFIG REWRITE could not write the file (Redis's "Rewriting config file: <strerror>"). */
export function configRewriteFailed(reason: string): string {
  return `ERR Rewriting config file: ${reason}`;
}

/** REPLCONF rdb-filter-only with a filter this server's snapshots cannot apply. */
export function replconfBadFilter(filter: string): string {
  return `ERR Unsupported rdb-filter-only option: ${filter}`;
}

// Replication, replica side (replication.c, server.c).
export const E_READONLY_REPLICA = "READONLY You can't write against a read only replica.";
export const E_MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
export const E_LOADING = 'LOADING Redis is loading the dataset in memory';

// Cluster mode (cluster.c).
export const E_CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";
export const E_TRYAGAIN = 'TRYAGAIN Multiple keys request during rehashing of slot';
export const E_CLUSTERDOWN = 'CLUSTERDOWN The cluster is down';
export const E_CLUSTERDOWN_RO = 'CLUSTERDOWN The cluster is down and only accepts read commands';
export const E_CLUSTERDOWN_UNBOUND = 'CLUSTERDOWN Hash slot not served';
export const E_CLUSTER_SELECT = 'ERR SELECT is not allowed in cluster mode';
export const E_CLUSTER_SWAPDB = 'ERR SWAPDB is not allowed in cluster mode';
export const E_CLUSTER_MOVE = 'ERR MOVE is not allowed in cluster mode';
export const E_CLUSTER_BAD_SLOT = 'ERR Invalid or out of range slot';
export const E_CLUSTER_INVALID_SLOT = 'ERR Invalid slot';
export const E_CLUSTER_SLOT_OR_KEYS = 'ERR Invalid slot or number of keys';
export const E_CLUSTER_SETSLOT_SYNTAX = 'ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP';
export const E_CLUSTER_FORGET_MYSELF = "ERR I tried hard but I can't forget myself...";
export const E_CLUSTER_FORGET_MASTER = "ERR Can't forget my master!";
export const E_CLUSTER_EPOCH_NONZERO = 'ERR Node config epoch is already non-zero';
export const E_CLUSTER_EPOCH_ALONE = 'ERR The user can assign a config epoch only when the node does not know any other node.';
export const E_CLUSTER_FLUSHSLOTS = 'ERR DB must be empty to perform CLUSTER FLUSHSLOTS.';
export const E_CLUSTER_RESET_KEYS = "ERR CLUSTER RESET can't be called with master nodes containing keys";
export const E_CLUSTER_NOT_MASTER = 'ERR Target node is not a master';
export const E_CLUSTER_FAILOVER_MASTER = 'ERR You should send CLUSTER FAILOVER to a replica';
export const E_CLUSTER_FAILOVER_NO_MASTER = "ERR I'm a replica but my master is unknown to me";
export const E_CLUSTER_FAILOVER_MASTER_DOWN = 'ERR Master is down or failed, please use CLUSTER FAILOVER FORCE';
export const E_CLUSTER_REPLICATE_MYSELF = "ERR Can't replicate myself";
export const E_CLUSTER_REPLICATE_REPLICA = 'ERR I can only replicate a master, not a replica.';
export const E_CLUSTER_REPLICATE_NOT_EMPTY = 'ERR To set a master the node must be empty and without assigned slots.';
export const E_CLUSTER_REPLICAS_OF_REPLICA = 'ERR The specified node is not a master';
export const E_CLUSTER_SETSLOT_REPLICA = 'ERR Please use SETSLOT only with masters.';
export const E_CLUSTER_REPLICAOF = 'ERR REPLICAOF not allowed in cluster mode.';

/** A MOVED or ASK redirection. */
export function clusterRedirect(kind: 'MOVED' | 'ASK', slot: number, host: string, port: number): string {
  return `${kind} ${slot} ${host}:${port}`;
}

/** CLUSTER ADDSLOTS of a slot some node serves. */
export function clusterSlotBusy(slot: number): string {
  return `ERR Slot ${slot} is already busy`;
}

/** CLUSTER DELSLOTS of a slot no node serves. */
export function clusterSlotUnassigned(slot: number): string {
  return `ERR Slot ${slot} is already unassigned`;
}

/** CLUSTER ADDSLOTS naming one slot twice. */
export function clusterSlotTwice(slot: number): string {
  return `ERR Slot ${slot} specified multiple times`;
}

/** CLUSTER ADDSLOTSRANGE with start > end. */
export function clusterRangeOrder(start: number, end: number): string {
  return `ERR start slot number ${start} is greater than end slot number ${end}`;
}

/** A CLUSTER subcommand naming a node this one does not know (`dontKnow`: SETSLOT MIGRATING/IMPORTING's wording). */
export function clusterUnknownNode(name: string, dontKnow = false): string {
  return dontKnow ? `ERR I don't know about node ${name}` : `ERR Unknown node ${name}`;
}

/** SETSLOT MIGRATING of a slot this node does not serve. */
export function clusterNotOwner(slot: number): string {
  return `ERR I'm not the owner of hash slot ${slot}`;
}

/** SETSLOT IMPORTING of a slot this node serves. */
export function clusterAlreadyOwner(slot: number): string {
  return `ERR I'm already the owner of hash slot ${slot}`;
}

/** SETSLOT NODE moving a slot that still has keys here. */
export function clusterSlotHasKeys(slot: number): string {
  return `ERR Can't assign hashslot ${slot} to a different node while I still hold keys for this hash slot.`;
}

/** CLUSTER MEET with a bad port (`bus`: the bus port). */
export function clusterBadPort(value: string, bus: boolean): string {
  return `ERR Invalid TCP ${bus ? 'bus' : 'base'} port specified: ${value}`;
}

/** CLUSTER MEET to an address that cannot be met. */
export function clusterBadAddress(ip: string, port: string): string {
  return `ERR Invalid node address specified: ${ip}:${port}`;
}

/** SET-CONFIG-EPOCH below zero. */
export function clusterBadEpoch(epoch: string): string {
  return `ERR Invalid config epoch specified: ${epoch}`;
}

/** SAVECONFIG failing to write nodes.conf. */
export function clusterSaveFailed(reason: string): string {
  return `ERR error saving the cluster node config: ${reason}`;
}
