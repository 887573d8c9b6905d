/**
 * The TypeScript client for tuigate (work in progress).
 *
 * @module
 */

export { VERSION } from "../version.ts";
