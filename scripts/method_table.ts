/**
 * Prints the README's method reference: a Markdown table of every method
 * `rpc.discover` returns, with its summary, in the order it returns them.
 *
 *   deno run -A scripts/method_table.ts
 *
 * The discovery test checks the README's table against
 * {@linkcode methodTableRows}, so a summary changed in the code fails the
 * tests until the table printed here replaces the README's.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The fields of an OpenRPC method object the table shows. */
export interface DiscoveredMethod {
  /** The method name. */
  name: string;
  /** Its one-line summary. */
  summary?: string;
}

/** The table's rows: the method name as code, and its summary with `|` escaped for Markdown. */
export function methodTableRows(methods: readonly DiscoveredMethod[]): [string, string][] {
  return methods.map((method) => [
    `\`${method.name}\``,
    (method.summary ?? "").replaceAll("|", "\\|"),
  ]);
}

/** The rows as an aligned Markdown table, with a header. */
export function methodTable(methods: readonly DiscoveredMethod[]): string {
  const rows: [string, string][] = [["Method", "Summary"], ...methodTableRows(methods)];
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(" | ")} |`;
  return [line(rows[0]), line(widths.map((width) => "-".repeat(width))), ...rows.slice(1).map(line)]
    .join("\n");
}

/** Starts the gateway with an in-memory store, asks `rpc.discover`, and returns its methods. */
async function discover(): Promise<DiscoveredMethod[]> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", "main.ts", "--state", "memory"],
    cwd: root,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}\n'),
  );
  let text = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    const line = text.split("\n").find((l) => l.includes('"id":1'));
    if (line !== undefined) {
      await writer.close();
      await child.status;
      return JSON.parse(line).result.methods;
    }
  }
  throw new Error(
    "Cannot print the method table: the gateway ended without answering rpc.discover",
  );
}

if (import.meta.main) {
  await Deno.stdout.write(new TextEncoder().encode(methodTable(await discover()) + "\n"));
}
