import { MemorySessionStore } from "../../src/sessions/memory_session_store.ts";
import { storeContract } from "./_store_contract.ts";

storeContract("MemorySessionStore", (retention) =>
  Promise.resolve({
    store: new MemorySessionStore({ retention }),
    dispose: () => Promise.resolve(),
  }));
