/**
 * The npm packages tuigate imports by a name held in a value (see
 * `loadLogtape` in src/protocol/logger.ts), which graph analysis cannot see.
 * `deno compile` includes this module, so the packages are in the binary;
 * it is never run.
 *
 * @module
 */

import "@logtape/logtape";
import "zod";
