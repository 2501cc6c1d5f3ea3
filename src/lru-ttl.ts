/**
 * How stale the clock of a TTL'd lru-cache may be, in ms. lru-cache reads the time at most once per
 * this interval and arms a timer to forget it; at its default of 1 ms every hot-path cache (keys,
 * organisations, provider accounts, the brute-force guard) armed a timer about every millisecond
 * under load. Every TTL here is seconds to minutes, so expiring up to 100 ms late changes nothing.
 */
export const TTL_RESOLUTION_MS = 100;
