import assert from "node:assert/strict";
import { routeConsole } from "../../src/mod.ts";

Deno.test("routeConsole with a sink writes every console method as one line, format directives applied", () => {
  const saved = { ...globalThis.console };
  const lines: string[] = [];
  try {
    routeConsole({ writeLine: (line) => lines.push(line) });
    const { log, error, warn, count } = console;
    log("%cstyled%c %s has %d items", "color: red", "", "cart", 3.7, { extra: true });
    error(new Error("boom").message);
    warn("100%% sure");
    count("clicks");
    count("clicks");
  } finally {
    Object.assign(globalThis.console, saved);
  }
  assert.equal(lines.length, 5);
  assert.match(lines[0], /\[INF\] console: styled cart has 3 items \{ extra: true \}$/);
  assert.match(lines[1], /\[ERR\] console: boom$/);
  assert.match(lines[2], /\[WRN\] console: 100% sure$/);
  assert.match(lines[4], /\[INF\] console: clicks: 2$/);
});
