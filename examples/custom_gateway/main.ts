/**
 * A small custom gateway built with the tuigate library: a to-do list
 * backend with three methods. Run it with
 *
 * ```sh
 * deno run --allow-env --allow-read --allow-write examples/custom_gateway/main.ts
 * ```
 *
 * and talk JSON-RPC to it on stdin/stdout, exactly like `deno task start`.
 *
 * @module
 */

import * as z from "zod";
import { defineMethod, Gateway, JsonRpcError, runStdio } from "../../src/mod.ts";

const Todo = z.object({ id: z.number().int(), title: z.string(), done: z.boolean() });
type Todo = z.infer<typeof Todo>;

/** This backend's own error code: outside -32768..-32000, which JSON-RPC and the gateway reserve. */
const TODO_NOT_FOUND = 404;

const todos = new Map<number, Todo>();
let nextId = 1;

const gateway = new Gateway({ name: "todo-backend", version: "1.0.0" });

gateway.register(defineMethod({
  name: "todo.add",
  summary: "Adds a to-do and tells every watcher",
  params: z.object({ title: z.string().min(1).max(200) }),
  result: Todo,
  handler: async ({ title }, ctx) => {
    const todo = { id: nextId++, title, done: false };
    todos.set(todo.id, todo);
    // The answer is the to-do as added: a todo.complete that runs while this awaits changes the
    // stored one, not this copy.
    const added = { ...todo };
    await ctx.notify("todo.changed", { todo: added });
    return added;
  },
}));

gateway.register(defineMethod({
  name: "todo.complete",
  summary: "Marks a to-do as done",
  params: z.object({ id: z.number().int() }),
  result: Todo,
  handler: async ({ id }, ctx) => {
    const todo = todos.get(id);
    if (todo === undefined) throw new JsonRpcError(TODO_NOT_FOUND, `To-do ${id} not found`, { id });
    todo.done = true;
    const completed = { ...todo };
    await ctx.notify("todo.changed", { todo: completed });
    return completed;
  },
}));

gateway.register(defineMethod({
  name: "todo.list",
  summary: "Lists to-dos, optionally only the open ones",
  params: z.object({ open: z.boolean().default(false) }),
  result: z.array(Todo),
  handler: ({ open }) => [...todos.values()].filter((t) => !open || !t.done),
}));

await runStdio(gateway);
