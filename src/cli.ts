#!/usr/bin/env node
/**
 * The `heat-gateway` command line. This entry holds V8's young generation small
 * (`gc.youngGeneration`, src/young-generation.ts) before anything else loads — loading the
 * gateway's modules alone would grow it to 8 MB — then loads the commands.
 */
import './young-generation.js';

await import('./cli-commands.js');
