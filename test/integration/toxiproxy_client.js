// toxiproxy_client.js -- drives muxd --api with the npm package
// toxiproxy-node-client (the client toxiproxy's Node users have), for
// test_api_node.py: one JSON request a line on stdin, one JSON answer a
// line on stdout ({"ok": RESULT} or {"error": MESSAGE}).
//
//   node toxiproxy_client.js MODULE_DIR API_URL
"use strict";
const readline = require("readline");
const { Toxiproxy } = require(process.argv[2]);

const toxiproxy = new Toxiproxy(process.argv[3]);

async function toxicOf(req) {
  const proxy = await toxiproxy.get(req.proxy);
  return proxy.getToxic(req.name);
}

const ops = {
  version: async () => toxiproxy.getVersion(),
  proxies: async () => {
    const all = await toxiproxy.getAll();
    return Object.keys(all).sort().map((name) => all[name].toJson());
  },
  get: async (req) => (await toxiproxy.get(req.proxy)).toJson(),
  add: async (req) => {
    const proxy = await toxiproxy.get(req.proxy);
    return (await proxy.addToxic(req.body)).toJson();
  },
  toxic: async (req) => (await toxicOf(req)).toJson(),
  update: async (req) => (await (await toxicOf(req)).update(req.body)).toJson(),
  remove: async (req) => {
    await (await toxicOf(req)).remove();
    return null;
  },
  reset: async () => {
    await toxiproxy.reset();
    return null;
  },
};

// One request after the other, in the order they came.
let queue = Promise.resolve();
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let answer;
    try {
      const req = JSON.parse(line);
      answer = { ok: await ops[req.op](req) };
    } catch (e) {
      answer = { error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  });
});
