import { Role } from '../../entities/enums';
import { ForbiddenError } from '../shared/errors';

/** Who is calling: the AgentHub user id (`sub`) and their role, as proven by a verified token. */
export interface Caller {
  userId: string;
  role: Role;
}

export function isPrivileged(caller: Caller): boolean {
  return caller.role === Role.ADMIN || caller.role === Role.SERVICE;
}

/**
 * Invariant 6: users act on their own data only; admin and service act across users. Returns the user id the
 * call is about (the caller's own when none is given).
 */
export function resolveSubject(caller: Caller, userId?: string | null): string {
  if (userId === undefined || userId === null || userId === caller.userId) {
    return caller.userId;
  }
  if (!isPrivileged(caller)) {
    throw new ForbiddenError("You can only act on your own account's data");
  }
  return userId;
}

export function requireRole(caller: Caller, ...roles: Role[]): void {
  if (!roles.includes(caller.role)) {
    throw new ForbiddenError(`This needs the ${roles.join(' or ')} role`);
  }
}
