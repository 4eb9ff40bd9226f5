/**
 * The role each RPC needs when the server checks tokens: `read` for reads, `write` for reads and
 * writes, `admin` for everything, operators' calls included. One exhaustive record, so that a new
 * RPC cannot be added without deciding who may call it.
 */
import type { LseRpcName } from '../protocol/proto-definition.ts'

export const roles = ['read', 'write', 'admin'] as const
export type Role = (typeof roles)[number]

export const methodRoles: Record<LseRpcName, Role> = {
  CreateProblem: 'write',
  GetProblemHtml: 'read',
  GetProblemMeta: 'read',
  UpdateProblemHtml: 'write',
  UpdateProblemColumn: 'write',
  DeleteProblem: 'write',
  ListProblems: 'read',
  AddTestCase: 'write',
  GetTestCase: 'read',
  GetAllTestCases: 'read',
  UpdateTestCase: 'write',
  DeleteTestCase: 'write',
  SetExpectedOutput: 'write',
  GetExpectedOutput: 'read',
  UpdateExpectedOutput: 'write',
  DeleteExpectedOutput: 'write',
  GetStats: 'read',
  Flush: 'admin',
  CompactNow: 'admin',
  Commit: 'write',
  Watch: 'read',
}

/** Whether a token of role `held` may make a call that needs `needed`. */
export function roleAllows(held: Role, needed: Role): boolean {
  return roles.indexOf(held) >= roles.indexOf(needed)
}
