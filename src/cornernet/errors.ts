import type { RoleProblem } from './resolve';

/**
 * Problems with the inputs as a whole (roles, shapes, indices), as opposed to an unreadable file
 * (TensorReadError). Both are "bad input": the CLI exits 2 and prints `error: <subject>: <problem>`.
 */
export class InputError extends Error {
  /** The role(s) or file(s) involved, as the user knows them: `tl_tag`, `gt_mask.npy`, `tl_ind (tl_ind.npy)`. */
  readonly subject: string;
  readonly problem: string;
  constructor(subject: string, problem: string) {
    super(`${subject}: ${problem}`);
    this.name = 'InputError';
    this.subject = subject;
    this.problem = problem;
  }
}

export function isInputError(e: unknown): e is InputError {
  return e instanceof InputError;
}

/** Roles that could not be settled: every problem, for the CLI's messages and the extension's pickers. */
export class RoleResolutionError extends InputError {
  readonly problems: RoleProblem[];
  constructor(problems: RoleProblem[]) {
    super(problems[0]!.subject, problems.length === 1 ? problems[0]!.message : `${problems[0]!.message} (and ${problems.length - 1} more problem(s))`);
    this.name = 'RoleResolutionError';
    this.problems = problems;
  }
}
