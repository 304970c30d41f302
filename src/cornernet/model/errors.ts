import type { RoleProblem } from './arrays';

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
  /** Files of the input folders that could not be read: often the reason a role is missing. */
  readonly skipped: readonly { file: string; reason: string }[];
  constructor(problems: RoleProblem[], skipped: readonly { file: string; reason: string }[] = []) {
    const missing = problems.filter((p) => p.kind === 'missing');
    let subject = problems[0]!.subject;
    let message = problems.length === 1 ? problems[0]!.message : `${problems[0]!.message} (and ${problems.length - 1} more problem(s))`;
    if (missing.length > 1) {
      subject = 'inputs';
      message = `${missing.length} roles have no array: ${missing.map((p) => p.subject).join(', ')}`;
      if (problems.length > missing.length) message += ` (and ${problems.length - missing.length} more problem(s))`;
    }
    // The cause of a missing role is often a file that was skipped: say so in the one line shown.
    if (missing.length && skipped.length) {
      const first = skipped[0]!;
      message += `; ${skipped.length} file(s) in the folder could not be read, e.g. ${first.file}: ${first.reason}`;
    }
    super(subject, message);
    this.name = 'RoleResolutionError';
    this.problems = problems;
    this.skipped = skipped;
  }
}
