/**
 * Wrong-password throttling per email and client address (the brute-force guard's pattern): after
 * `limit` failures in the window, sign-in for that pair answers 429 with Retry-After until the window
 * ends, whether the password is right or not. A success clears nothing: the window just runs out.
 */
import { MemoryFailureLimiter } from '../limits/auth-failures.js';

export class LoginThrottle {
  private readonly failures: MemoryFailureLimiter;

  constructor(limit: number, windowMs: number) {
    this.failures = new MemoryFailureLimiter(limit, windowMs);
  }

  private static key(email: string, ip: string): string {
    return `${email.trim().toLowerCase()}\u0000${ip}`;
  }

  /** Seconds until this email may try again from this address (0 = now). */
  blockedFor(email: string, ip: string): number {
    return this.failures.blockedFor(LoginThrottle.key(email, ip));
  }

  recordFailure(email: string, ip: string): void {
    this.failures.recordFailure(LoginThrottle.key(email, ip));
  }
}
