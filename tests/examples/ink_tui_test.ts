/**
 * The Ink example TUI in a real terminal: tmux runs it in a pane, send-keys
 * types, capture-pane reads the screen.
 */

import assert from "node:assert/strict";
import { ROOT } from "../_support/gateway_process.ts";
import { alive } from "../_support/process_state.ts";

const TUI = `${ROOT}/examples/ink_tui/main.tsx`;

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A tmux server of its own (its own socket, no user config) running one pane. */
class Terminal {
  readonly socket = `tuigate-ink-${Deno.pid}-${Math.random().toString(36).slice(2, 8)}`;
  #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  tmux(...args: string[]): string {
    const out = new Deno.Command("tmux", {
      args: ["-L", this.socket, "-f", "/dev/null", ...args],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  start(tuiArgs: string[]): void {
    const command = [Deno.execPath(), "run", "-A", TUI, ...tuiArgs].map(shellQuote).join(" ");
    this.tmux(
      "new-session",
      "-d",
      "-s",
      "tui",
      "-x",
      "110",
      "-y",
      "32",
      "-e",
      `TUIGATE_CRASH_LOG=${this.#dir}/exits.jsonl`,
      "-e",
      `TUIGATE_STATE_DIR=${this.#dir}/state`,
      "-e",
      "NO_COLOR=1",
      // A person's terminal, not CI: Ink renders only the last frame when it detects CI.
      "-e",
      "CI=false",
      `cd ${
        shellQuote(ROOT)
      } && env -u CONTINUOUS_INTEGRATION ${command}; echo "TUI-EXITED $?"; sleep 600`,
    );
  }

  screen(): string {
    return this.tmux("capture-pane", "-p", "-t", "tui");
  }

  keys(...keys: string[]): void {
    this.tmux("send-keys", "-t", "tui", ...keys);
  }

  /** Waits until the screen matches, and returns it. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const end = performance.now() + timeoutMs;
    let screen = "";
    while (performance.now() < end) {
      screen = this.screen();
      if (pattern.test(screen)) return screen;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`The screen never showed ${pattern}; it shows:\n${screen}`);
  }

  kill(): void {
    try {
      this.tmux("kill-server");
    } catch {
      // Already gone.
    }
  }
}

function lastTick(screen: string): number {
  const ticks = [...screen.matchAll(/^\s*tick (\d+)\s*$/gm)].map((m) => Number(m[1]));
  return ticks.length === 0 ? 0 : Math.max(...ticks);
}

function pids(screen: string): { gateway: number; job: number } {
  const gateway = /gateway: .* pid (\d+)/.exec(screen);
  const job = /job: \S+ · pid (\d+)/.exec(screen);
  assert.ok(gateway !== null && job !== null, screen);
  return { gateway: Number(gateway[1]), job: Number(job[1]) };
}

function hasTmux(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"] }).outputSync().success;
  } catch {
    return false;
  }
}

async function withTerminal(run: (terminal: Terminal) => Promise<void>): Promise<void> {
  assert.ok(hasTmux(), "tmux is not installed (apt-get install tmux; .ci/run does it)");
  const dir = await Deno.makeTempDir({ prefix: "tuigate-ink-" });
  const terminal = new Terminal(dir);
  try {
    await run(terminal);
  } finally {
    terminal.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("Ink TUI under tmux streams a job's output, cancels it on c, and quits on q", async () => {
  await withTerminal(async (terminal) => {
    terminal.start([]);
    const running = await terminal.waitFor(/status: running[\s\S]*tick 3\b/);
    assert.match(running, /gateway: tuigate \d+\.\d+\.\d+ · pid \d+/);
    assert.match(running, /keys: c cancel · r run again · q quit/);
    const { gateway, job } = pids(running);
    assert.ok(alive(gateway) && alive(job));

    // The output keeps streaming onto the screen.
    const before = lastTick(running);
    const later = await terminal.waitFor(/tick \d+/, 10_000).then(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return terminal.screen();
    });
    assert.ok(lastTick(later) >= before + 3, `ticks went from ${before} to ${lastTick(later)}`);
    assert.match(later, /status: running · \d+ lines · \d+ B/);

    // c cancels the job: SIGTERM to its process group, shown on screen, and the output stops.
    terminal.keys("c");
    const cancelled = await terminal.waitFor(/status: cancelled \(SIGTERM after \d+ ms\)/, 15_000);
    const stoppedAt = lastTick(cancelled);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(lastTick(terminal.screen()), stoppedAt, "no output after the cancel");
    assert.equal(alive(job), false, "the job's process is gone");
    assert.equal(alive(gateway), true, "the gateway keeps running");

    // q quits: the TUI exits 0 and closing the client ended the gateway.
    terminal.keys("q");
    await terminal.waitFor(/TUI-EXITED 0/, 15_000);
    const end = performance.now() + 5000;
    while (alive(gateway) && performance.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(alive(gateway), false, "the gateway exited with the TUI");
  });
});

Deno.test("Ink TUI under tmux shows a job that ends by itself, and runs it again on r", async () => {
  await withTerminal(async (terminal) => {
    terminal.start([
      "--",
      "sh",
      "-c",
      "echo first line; echo 'second: \u00e9\u00e8'; printf 'no newline'",
    ]);
    const exited = await terminal.waitFor(/status: exited \(code 0 after \d+ ms\) · 3 lines/);
    assert.match(exited, /first line\n\s*second: \u00e9\u00e8\n\s*no newline/);
    const firstJob = /job: (\S+) ·/.exec(exited)![1];
    terminal.keys("r");
    const again = await terminal.waitFor(
      new RegExp(`job: (?!${firstJob} )\\S+ ·[\\s\\S]*status: exited \\(code 0`),
    );
    assert.match(again, /first line/);
    terminal.keys("q");
    await terminal.waitFor(/TUI-EXITED 0/, 15_000);
  });
});
