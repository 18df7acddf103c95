import { Command, CommanderError } from 'commander';
import { reportError } from './output.js';
import { simCommand } from './commands/sim.js';
import { demoCommand } from './commands/demo.js';
import { coordinatorCommand } from './commands/coordinator.js';
import { clientCommand } from './commands/client.js';
import { benchCommand } from './commands/bench.js';
import { privacyCommand } from './commands/privacy.js';
import { compareCommand } from './commands/compare.js';
import { tokenCommand } from './commands/token.js';

export function buildProgram(): Command {
  const program = new Command('flock')
    .description('Flock: privacy-focused federated learning (coordinator, client, simulations, benchmarks)')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const c of [demoCommand(), simCommand(), compareCommand(), coordinatorCommand(), clientCommand(), tokenCommand(), benchCommand(), privacyCommand()]) {
    program.addCommand(c.exitOverride().showHelpAfterError('(run with --help for usage)'));
  }
  for (const c of program.commands) for (const sub of c.commands) sub.exitOverride();
  return program;
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    return reportError(e);
  }
}
