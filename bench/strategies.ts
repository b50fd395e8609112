/**
 * The strategy comparison (issue: "the numbers that decide which data flow to use").
 *
 *   npm run bench:strategies                 # 120 s per mode, 200 × 5 instances, 10 changes/s
 *   npm run bench:strategies -- --quick      # 15 s per mode
 *   npm run bench:strategies -- --sweep      # instead: every mode at 100, 1,000, 10,000 instances
 *
 * Same as `heat-gateway bench`. Reports go to bench/results/. See docs/benchmarks.md.
 */
import { Command } from 'commander';
import { registerBenchCommand } from '../src/bench/bench-command.js';

const program = new Command('bench-strategies');
registerBenchCommand(program);
await program.parseAsync(['node', 'bench-strategies', 'bench', ...process.argv.slice(2)]);
