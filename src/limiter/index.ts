/** Public entry of `sabre/limiter`: shared-memory limiters, policies, middleware and the server commands. */
export { BucketTable, TABLE_FULL, NS_MAX, type BucketTableOptions } from './bucket-table.js';
export { coarseMs, monotonicMs, wallClockNs, type Clock } from './clock.js';
export { GcraLimiter } from './gcra.js';
export { gcraParams, type GcraParams } from './gcra-math.js';
export { TokenBucketLimiter } from './token-bucket.js';
export { tokenBucketParams, type TokenBucketParams } from './token-bucket-math.js';
export type { LocalLimiterOptions } from './local-options.js';
export { newResult, type CheckResult } from './result.js';
export { LeasePool } from './lease-pool.js';
export { GlobalLimiter, type GlobalLimiterOptions } from './remote.js';
export { RespClient, RespDecoder, RespReplyError, type RespClientOptions, type RespValue } from './resp-client.js';
export { encodeCommand } from '../wire/resp-command.js';
export { parsePolicyConfig, policyConfigSchema, type Policy, type PolicyConfig } from './policy-config.js';
export { PolicyEngine, compilePathPattern, type Decision, type EngineStats, type LevelStats, type RequestInfo } from './policy.js';
export { rateLimit, withRateLimit, applyDecision, requestInfo, clientIp, type MiddlewareOptions } from './middleware.js';
export * as cell from './cell.js';
export { LimiterError, KeyTooLongError, InvalidCostError, RateLimitedError, UnavailableError, type LimiterErrorCode } from './errors.js';
export { QueueLimiter, type QueueLimiterOptions, type QueueResult } from './queue.js';
